import {
  type Attributes,
  type AttributeValue,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  TraceFlags,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace-base';

/**
 * What Sidekick's own spans share: where they go when they end (the SDK's span processors, so the
 * SDK's batching and exporters ship them), the app's resource and the instrumentation scope.
 */
export interface SpanSink {
  readonly processors: readonly SpanProcessor[];
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
}

/** Attribute and event limits, as the SDK's defaults. */
const MAX_ATTRIBUTES = 128;
const MAX_EVENTS = 128;

const ORIGIN_MS = performance.timeOrigin;

/** Epoch milliseconds as `[seconds, nanoseconds]`, to whole microseconds (Zipkin's JSON wants integer microseconds). */
function toHrTime(epochMs: number): HrTime {
  let seconds = Math.trunc(epochMs / 1000);
  let micros = Math.round((epochMs - seconds * 1000) * 1000);
  if (micros >= 1_000_000) {
    seconds += 1;
    micros -= 1_000_000;
  }
  return [seconds, micros * 1000];
}

function timeOf(input: TimeInput | undefined): HrTime {
  if (input === undefined) return toHrTime(ORIGIN_MS + performance.now());
  if (Array.isArray(input)) return input as HrTime;
  if (input instanceof Date) return toHrTime(input.getTime());
  // A number below the process's performance clock is a performance timestamp, else epoch milliseconds (as the SDK reads it).
  return toHrTime(input < ORIGIN_MS ? ORIGIN_MS + input : input);
}

function isAttributeValue(value: unknown): value is AttributeValue {
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean') return true;
  return Array.isArray(value) && value.every((v) => v === null || v === undefined || ['string', 'number', 'boolean'].includes(typeof v));
}

/**
 * The span of one call Sidekick traces (an API request, a component call, an invocation, a delivery,
 * a request to the app's routes). It is an OpenTelemetry `Span` (the user's own spans, made with the
 * SDK's tracer, nest under it; `trace.getActiveSpan()` returns it) and a `ReadableSpan` (the SDK's
 * span processors and exporters take it as they take their own). Sidekick makes these instead of
 * asking the SDK's tracer because a traced call pays for every span: the SDK's tracer re-checks
 * suppression, sampling (already decided), attributes and limits, and records its own metrics per span,
 * which cost about a third of tracing's overhead on a self-invocation (bench/RESULTS.md).
 * Always sampled: an unsampled call gets no span object at all.
 */
export class SidekickSpan implements Span, ReadableSpan {
  readonly startTime: HrTime;
  endTime: HrTime = [0, 0];
  duration: HrTime = [-1, -1];
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  readonly attributes: Attributes = {};
  readonly links: Link[] = [];
  readonly events: TimedEvent[] = [];
  ended = false;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  private count = 0;

  constructor(
    private readonly sink: SpanSink,
    public name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
  ) {
    this.startTime = timeOf(undefined);
  }

  /** A span under `parent` (its trace, a new span id), or a new trace's root. */
  static start(sink: SpanSink, name: string, kind: SpanKind, ids: { traceId: string; spanId: string }, parent: SpanContext | undefined): SidekickSpan {
    const context: SpanContext = { traceId: ids.traceId, spanId: ids.spanId, traceFlags: TraceFlags.SAMPLED, traceState: parent?.traceState };
    return new SidekickSpan(sink, name, kind, context, parent);
  }

  get resource(): Resource {
    return this.sink.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.sink.scope;
  }

  spanContext(): SpanContext {
    return this.context;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (this.ended || key === '' || value === undefined || value === null || !isAttributeValue(value)) return this;
    if (this.attributes[key] === undefined) {
      if (this.count >= MAX_ATTRIBUTES) {
        this.droppedAttributesCount += 1;
        return this;
      }
      this.count += 1;
    }
    this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const timeGiven = attributesOrTime instanceof Date || typeof attributesOrTime === 'number' || Array.isArray(attributesOrTime);
    const event: TimedEvent = {
      name,
      attributes: timeGiven ? {} : ((attributesOrTime as Attributes | undefined) ?? {}),
      time: timeOf(timeGiven ? (attributesOrTime as TimeInput) : time),
      droppedAttributesCount: 0,
    };
    if (this.events.length >= MAX_EVENTS) {
      this.events.shift();
      this.droppedEventsCount += 1;
    }
    this.events.push(event);
    return this;
  }

  addLink(link: Link): this {
    if (!this.ended) this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    // OK is final and setting UNSET is ignored (the OpenTelemetry spec, as the SDK does).
    if (this.ended || this.status.code === SpanStatusCode.OK || status.code === SpanStatusCode.UNSET) return this;
    this.status = status.code === SpanStatusCode.ERROR ? { code: status.code, message: status.message } : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    const end = timeOf(endTime);
    this.endTime = end;
    let seconds = end[0] - this.startTime[0];
    let nanos = end[1] - this.startTime[1];
    if (nanos < 0) {
      seconds -= 1;
      nanos += 1e9;
    }
    this.duration = seconds < 0 ? [0, 0] : [seconds, nanos];
    for (const processor of this.sink.processors) processor.onEnd(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else {
      if (exception.name ?? exception.code) attributes['exception.type'] = String(exception.name ?? exception.code);
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    this.addEvent('exception', attributes, time);
  }
}
