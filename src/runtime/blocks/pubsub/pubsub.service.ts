import { PublishError } from '../../../errors/pubsub.errors';
import { SidekickError } from '../../../errors/sidekick.error';
import type { Clock } from '../../../spi/clock';
import { rawPayload, tryParseJson } from '../../../spi/codec';
import { parseTtlSeconds } from '../../../spi/ttl';
import type { PublishRequest, PubSub } from '../../../spi/pubsub';
import type { ComponentLookup } from '../../components/component.lookup';
import { annotateActiveSpan, injectTraceContext } from '../../interception/trace-context';
import { type CloudEvent, CLOUDEVENT_CONTENT_TYPE, isJsonContentType, toEnvelope } from './cloudevent';

/** One thing to publish: `data` from code, or `bytes` as received over HTTP, with its content type. */
export interface PublishInput {
  readonly data?: unknown;
  readonly bytes?: Buffer;
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface BulkPublishEntry extends PublishInput {
  readonly entryId: string;
}

export interface BulkPublishResult {
  readonly failedEntries: readonly { entryId: string; error: string }[];
}

/**
 * The publishing half of the pub/sub block: builds the CloudEvent (or passes a raw payload / a
 * caller's CloudEvent through) and hands the bytes to the component.
 */
export class PubSubService {
  constructor(
    private readonly pubsubs: ComponentLookup<PubSub>,
    private readonly appId: string,
    private readonly clock: Clock,
  ) {}

  names(): string[] {
    return this.pubsubs.names();
  }

  /** The component, or `PubSubNotFoundError` listing the configured ones. */
  async component(name: string): Promise<PubSub> {
    return (this.pubsubs.now(name) ?? (await this.pubsubs.later(name))).component;
  }

  async publish(pubsubName: string, topic: string, input: PublishInput): Promise<void> {
    // Once started, look the component up without an extra await (the hot path).
    const pubsub = (this.pubsubs.now(pubsubName) ?? (await this.pubsubs.later(pubsubName))).component;
    const request = this.prepare(pubsub, pubsubName, topic, input);
    try {
      await pubsub.publish(request);
    } catch (err) {
      throw new PublishError(pubsubName, topic, err);
    }
  }

  async bulkPublish(pubsubName: string, topic: string, entries: readonly BulkPublishEntry[]): Promise<BulkPublishResult> {
    const pubsub = await this.component(pubsubName);
    const requests = entries.map((entry) => this.prepare(pubsub, pubsubName, topic, entry));
    if (pubsub.bulkPublish) {
      const { failed } = await pubsub.bulkPublish(requests);
      return { failedEntries: failed.map((f) => ({ entryId: entries[f.index]?.entryId ?? String(f.index), error: f.error.message })) };
    }
    const failedEntries: { entryId: string; error: string }[] = [];
    for (const [i, request] of requests.entries()) {
      try {
        await pubsub.publish(request);
      } catch (err) {
        failedEntries.push({ entryId: entries[i]?.entryId ?? String(i), error: (err as Error).message });
      }
    }
    return { failedEntries };
  }

  /** Publishes bytes exactly as given (dead letters keep the original message). */
  async publishBytes(pubsubName: string, topic: string, data: Buffer, contentType: string): Promise<void> {
    const pubsub = await this.component(pubsubName);
    await pubsub.publish({ topic, data, contentType });
  }

  private prepare(pubsub: PubSub, pubsubName: string, topic: string, input: PublishInput): PublishRequest {
    if (topic === '') throw new SidekickError('ERR_TOPIC_NAME_EMPTY', `topic is empty in pubsub ${pubsubName}`);
    const metadata = input.metadata ?? {};
    const raw = metadata['rawPayload'];
    if (raw !== undefined && raw !== 'true' && raw !== 'false') {
      throw new SidekickError('ERR_PUBSUB_REQUEST_METADATA', `metadata.rawPayload must be true or false, got "${raw}"`, { field: 'metadata.rawPayload' });
    }
    const ttl = metadata['ttlInSeconds'];
    if (ttl !== undefined) {
      const parsed = parseTtlSeconds(ttl);
      if (!parsed.ok) throw new SidekickError('ERR_PUBSUB_REQUEST_METADATA', parsed.reason, { field: 'metadata.ttlInSeconds' });
    }
    if (raw === 'true') {
      const data = input.bytes ?? rawPayload(input.data);
      return { topic, data, contentType: input.contentType ?? 'application/octet-stream', metadata };
    }
    const ctx = {
      appId: this.appId,
      pubsub: pubsubName,
      topic,
      now: this.clock.now(),
      metadata,
      addExpiration: !pubsub.features.includes('MESSAGE_TTL'),
    };
    const body = this.body(input);
    if (metadata['cloudevent.traceparent'] !== undefined || (typeof body.given?.['traceparent'] === 'string' && body.given['traceparent'] !== '')) {
      return { topic, data: JSON.stringify(toEnvelope(body, ctx)), contentType: CLOUDEVENT_CONTENT_TYPE, metadata };
    }
    return new TracedEnvelope(topic, metadata, () => toEnvelope(body, ctx));
  }

  /** Decides how the payload sits in the envelope: a given CloudEvent, JSON `data`, text, or `data_base64`. */
  private body(input: PublishInput): { data?: unknown; bytes?: Buffer; contentType: string; given?: Record<string, unknown> } {
    const type = input.contentType;
    if (input.bytes !== undefined) {
      const contentType = type || 'text/plain';
      if (contentType.startsWith(CLOUDEVENT_CONTENT_TYPE)) return { contentType, given: parseGiven(input.bytes) };
      if (isJsonContentType(contentType)) {
        const parsed = tryParseJson(input.bytes);
        return { data: parsed.ok ? parsed.value : input.bytes.toString('utf8'), contentType };
      }
      if (/^(application\/octet-stream|image\/|audio\/|video\/)/i.test(contentType)) return { bytes: input.bytes, contentType };
      return { data: input.bytes.toString('utf8'), contentType };
    }
    const data = input.data;
    if (Buffer.isBuffer(data) || data instanceof Uint8Array) return { bytes: Buffer.from(data), contentType: type ?? 'application/octet-stream' };
    if (type?.startsWith(CLOUDEVENT_CONTENT_TYPE) && typeof data === 'object' && data !== null)
      return { contentType: type, given: { ...(data as Record<string, unknown>) } };
    if (typeof data === 'string') return { data, contentType: type ?? 'text/plain' };
    return { data: data ?? null, contentType: type ?? 'application/json' };
  }
}

function parseGiven(bytes: Buffer): Record<string, unknown> {
  const parsed = tryParseJson(bytes);
  if (!parsed.ok) throw new SidekickError('ERR_PUBSUB_CLOUD_EVENTS_SER', `the body is not a JSON CloudEvent: ${parsed.error.message}`);
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SidekickError('ERR_PUBSUB_CLOUD_EVENTS_SER', 'the body is not a JSON CloudEvent object');
  }
  return value as Record<string, unknown>;
}

/**
 * The CloudEvent as JSON, with the active span's `traceparent`/`traceid`/`tracestate` when one is
 * active (the publish span when tracing is on, or the app's own OpenTelemetry span). Without a span
 * the fields stay empty, as daprd writes them.
 */
function serialise(event: CloudEvent, topic: string): string {
  const trace: Record<string, unknown> = {};
  if (injectTraceContext(trace) && typeof trace['traceparent'] === 'string') {
    event.traceparent = trace['traceparent'];
    event.traceid = trace['traceparent'];
    event.tracestate = typeof trace['tracestate'] === 'string' ? trace['tracestate'] : '';
    annotateActiveSpan('messaging.destination.name', topic);
  }
  return JSON.stringify(event);
}

/**
 * A publish request whose CloudEvent is serialised when the component reads `data`, that is inside
 * the component's `publish` call and so inside its span when tracing is on: the event then carries
 * the publish span's trace context and the delivery is its child. Built once (a retried publish
 * sends the same event). A class, so every request shares one shape: an object literal with a
 * getter closing over per-call state gets a hidden class of its own each time, which made every
 * publish several microseconds slower.
 */
class TracedEnvelope implements PublishRequest {
  readonly contentType = CLOUDEVENT_CONTENT_TYPE;
  readonly #build: () => CloudEvent;
  #serialised: string | undefined;

  constructor(
    readonly topic: string,
    readonly metadata: Readonly<Record<string, string>>,
    build: () => CloudEvent,
  ) {
    this.#build = build;
  }

  get data(): string {
    return (this.#serialised ??= serialise(this.#build(), this.topic));
  }
}
