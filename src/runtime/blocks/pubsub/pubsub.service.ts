import { PublishError, PubSubNotFoundError } from '../../../errors/pubsub.errors';
import { SidekickError } from '../../../errors/sidekick.error';
import type { Clock } from '../../../spi/clock';
import type { PublishRequest, PubSub } from '../../../spi/pubsub';
import type { ComponentManager } from '../../components/component.manager';
import type { Readiness } from '../../readiness';
import { CLOUDEVENT_CONTENT_TYPE, isJsonContentType, toEnvelope } from './cloudevent';

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
    private readonly components: ComponentManager,
    private readonly appId: string,
    private readonly clock: Clock,
    private readonly readiness: Readiness,
  ) {}

  names(): string[] {
    return this.components.list('pubsub').map((c) => c.spec.name);
  }

  /** The component, or `PubSubNotFoundError` listing the configured ones. */
  async component(name: string): Promise<PubSub> {
    if (!this.readiness.ready) await this.readiness.promise;
    return this.lookup(name);
  }

  private lookup(name: string): PubSub {
    const pubsub = this.components.pubsub(name);
    if (!pubsub) throw new PubSubNotFoundError(name, this.names());
    return pubsub;
  }

  async publish(pubsubName: string, topic: string, input: PublishInput): Promise<void> {
    // Once started, look the component up without an extra await (the hot path).
    const pubsub = this.readiness.ready ? this.lookup(pubsubName) : await this.component(pubsubName);
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
    if (raw === 'true') {
      const data = input.bytes ?? rawBytes(input.data);
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
    const event = toEnvelope(this.body(input), ctx);
    return { topic, data: JSON.stringify(event), contentType: CLOUDEVENT_CONTENT_TYPE, metadata };
  }

  /** Decides how the payload sits in the envelope: a given CloudEvent, JSON `data`, text, or `data_base64`. */
  private body(input: PublishInput): { data?: unknown; bytes?: Buffer; contentType: string; given?: Record<string, unknown> } {
    const type = input.contentType;
    if (input.bytes !== undefined) {
      const contentType = type || 'text/plain';
      if (contentType.startsWith(CLOUDEVENT_CONTENT_TYPE)) return { contentType, given: parseGiven(input.bytes) };
      if (isJsonContentType(contentType)) {
        const text = input.bytes.toString('utf8');
        try {
          return { data: JSON.parse(text), contentType };
        } catch {
          return { data: text, contentType };
        }
      }
      if (/^(application\/octet-stream|image\/|audio\/|video\/)/i.test(contentType)) return { bytes: input.bytes, contentType };
      return { data: input.bytes.toString('utf8'), contentType };
    }
    const data = input.data;
    if (Buffer.isBuffer(data) || data instanceof Uint8Array) return { bytes: Buffer.from(data), contentType: type ?? 'application/octet-stream' };
    if (type?.startsWith(CLOUDEVENT_CONTENT_TYPE) && typeof data === 'object' && data !== null) return { contentType: type, given: { ...(data as Record<string, unknown>) } };
    if (typeof data === 'string') return { data, contentType: type ?? 'text/plain' };
    return { data: data ?? null, contentType: type ?? 'application/json' };
  }
}

function parseGiven(bytes: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new SidekickError('ERR_PUBSUB_CLOUD_EVENTS_SER', `the body is not a JSON CloudEvent: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SidekickError('ERR_PUBSUB_CLOUD_EVENTS_SER', 'the body is not a JSON CloudEvent object');
  }
  return value as Record<string, unknown>;
}

function rawBytes(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data);
  if (typeof data === 'string') return Buffer.from(data);
  return Buffer.from(JSON.stringify(data ?? null));
}
