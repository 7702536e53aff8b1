import { type Context, context, diag, propagation, SamplingDecision, type Span, type SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { IdGenerator, ReadableSpan, Sampler, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { randomBytes } from 'node:crypto';
import type { SidekickLogger } from '../../../spi/logger';
import { SidekickSpan, type SpanSink } from './sidekick-span';
import type { TracingSetup } from './tracing.settings';

/**
 * The OpenTelemetry SDK, loaded only when the app traces (this module is `require`d by the tracing
 * block then, never imported at the top of a file that every app loads). Builds one tracer provider
 * per app (its `service.name` is the app id) with Dapr's sampler (parent-based, ratio from
 * `samplingRate`) and the configured exporters, and registers the process-wide OpenTelemetry API
 * globals (context manager on AsyncLocalStorage, W3C propagator, the tracer provider) so the user's
 * own `trace.getTracer(...)` spans nest under Sidekick's.
 */

export interface TracingSdk {
  /**
   * One of Sidekick's own spans under `parent` (the caller has checked that it is worth one: a
   * sampled parent, or no parent and a root rate above 0). A root is sampled at the configured rate;
   * an unsampled root is a non-recording span that still carries its trace id downstream.
   */
  startSpan(name: string, kind: SpanKind, parent: Context): Span;
  /** Exports what is buffered and stops exporting; unregisters the globals when this was the last app tracing. */
  shutdown(): Promise<void>;
}

/** Extra span processors (tests: an `InMemorySpanExporter` behind a `SimpleSpanProcessor`). */
export interface SdkExtras {
  readonly spanProcessors?: readonly SpanProcessor[];
}

/**
 * Apps in this process that trace, and which OpenTelemetry API globals Sidekick registered for them
 * (they are process-wide by OpenTelemetry's design; one the app had registered itself is left alone).
 */
let registrations = 0;
const owned = { context: false, propagation: false, trace: false };

export function startTracingSdk(appId: string, setup: TracingSetup, logger: SidekickLogger, extras: SdkExtras = {}): TracingSdk {
  /* eslint-disable @typescript-eslint/no-require-imports -- lazy on purpose: apps without tracing load none of the SDK */
  const base = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
  const { W3CTraceContextPropagator } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');

  const processors: SpanProcessor[] = [];
  if (setup.zipkin) {
    const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin') as typeof import('@opentelemetry/exporter-zipkin');
    processors.push(new base.BatchSpanProcessor(new ZipkinExporter({ url: setup.zipkin, serviceName: appId }), { scheduledDelayMillis: 500 }));
  }
  if (setup.otlp) {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    processors.push(new base.BatchSpanProcessor(new OTLPTraceExporter({ url: setup.otlp }), { scheduledDelayMillis: 500 }));
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
  if (setup.stdout) processors.push(new base.SimpleSpanProcessor(new LogSpanExporter(logger)));
  processors.push(...(extras.spanProcessors ?? []));

  // Rate 1 and 0 decide without hashing the trace id (the ratio sampler's work at every root span).
  const root =
    setup.samplingRate >= 1
      ? new base.AlwaysOnSampler()
      : setup.samplingRate <= 0
        ? new base.AlwaysOffSampler()
        : new base.TraceIdRatioBasedSampler(setup.samplingRate);
  const sampler = new base.ParentBasedSampler({ root });
  const resource = resourceFromAttributes({ 'service.name': appId, 'dapr.app_id': appId });
  const ids = new PooledIdGenerator();
  const provider = new base.BasicTracerProvider({ resource, sampler, idGenerator: ids, spanProcessors: processors });
  const sink: SpanSink = { processors, resource, scope: { name: 'sidekick' } };
  const everyRoot = setup.samplingRate >= 1;
  const rootSampler: Sampler = root;

  // The API's globals accept one registration per process: the first app tracing sets them, later ones share them.
  if (registrations === 0) {
    // Each returns false (and keeps the existing one) when the app registered its own first.
    const manager = new AsyncLocalStorageContextManager();
    owned.context = context.setGlobalContextManager(manager.enable());
    if (!owned.context) manager.disable();
    owned.propagation = propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    owned.trace = trace.setGlobalTracerProvider(provider);
    if (!owned.trace) diag.warn('sidekick: a global tracer provider was already registered; it is kept');
  }
  registrations += 1;

  let stopped = false;
  return {
    startSpan(name: string, kind: SpanKind, parent: Context): Span {
      const parentContext = trace.getSpanContext(parent);
      const spanId = ids.generateSpanId();
      if (parentContext) return SidekickSpan.start(sink, name, kind, { traceId: parentContext.traceId, spanId }, parentContext);
      const traceId = ids.generateTraceId();
      if (!everyRoot && rootSampler.shouldSample(parent, traceId, name, kind, {}, []).decision !== SamplingDecision.RECORD_AND_SAMPLED) {
        return trace.wrapSpanContext({ traceId, spanId, traceFlags: TraceFlags.NONE });
      }
      return SidekickSpan.start(sink, name, kind, { traceId, spanId }, undefined);
    },
    async shutdown(): Promise<void> {
      if (stopped) return;
      stopped = true;
      try {
        await provider.shutdown();
      } finally {
        registrations -= 1;
        if (registrations === 0) {
          if (owned.trace) trace.disable();
          if (owned.propagation) propagation.disable();
          if (owned.context) context.disable();
          owned.trace = owned.propagation = owned.context = false;
        }
      }
    },
  };
}

/**
 * Trace and span ids cut from a pool of random hex (4 KiB of `crypto.randomBytes` at a time), through
 * the SDK's `IdGenerator` extension point: one string slice per id instead of the default generator's
 * two to four `Math.random` calls, buffer writes and a hex conversion per id (measured in the tracing
 * benchmark, where every span pays it). An all-zero id (invalid in W3C trace context) is never handed out.
 */
export class PooledIdGenerator implements IdGenerator {
  private pool = '';
  private at = 0;

  generateTraceId(): string {
    return this.take(32);
  }

  generateSpanId(): string {
    return this.take(16);
  }

  private take(chars: number): string {
    for (;;) {
      if (this.at + chars > this.pool.length) {
        this.pool = randomBytes(4096).toString('hex');
        this.at = 0;
      }
      const id = this.pool.slice(this.at, (this.at += chars));
      if (!ALL_ZERO.test(id)) return id;
    }
  }
}

const ALL_ZERO = /^0+$/;

/** `spec.tracing.stdout: true`: each finished span as one log line (daprd prints them to its console). */
class LogSpanExporter implements SpanExporter {
  constructor(private readonly logger: SidekickLogger) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) {
      const sc = span.spanContext();
      this.logger.info(
        {
          span: span.name,
          trace_id: sc.traceId,
          span_id: sc.spanId,
          parent_span_id: span.parentSpanContext?.spanId,
          kind: span.kind,
          durationMs: span.duration[0] * 1e3 + span.duration[1] / 1e6,
          status: span.status.code,
          attributes: span.attributes,
        },
        'span',
      );
    }
    done({ code: 0 });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
