import { randomUUID } from 'node:crypto';
import { isJsonContentType, tryParseJson } from '../../../spi/codec';

/** A CloudEvents 1.0 envelope with Dapr's extension attributes. */
export interface CloudEvent<T = unknown> {
  specversion: string;
  id: string;
  source: string;
  type: string;
  datacontenttype?: string;
  data?: T;
  data_base64?: string;
  subject?: string;
  time?: string;
  topic?: string;
  pubsubname?: string;
  traceid?: string;
  traceparent?: string;
  tracestate?: string;
  expiration?: string;
  [extension: string]: unknown;
}

export interface EnvelopeContext {
  readonly appId: string;
  readonly pubsub: string;
  readonly topic: string;
  readonly now: number;
  /** Request metadata: `cloudevent.id|source|type|subject|traceid|traceparent|tracestate`, `ttlInSeconds`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Set when the pub/sub cannot expire messages itself: `expiration` is written into the envelope. */
  readonly addExpiration: boolean;
}

const OVERRIDABLE = ['id', 'source', 'type', 'subject', 'traceid', 'traceparent', 'tracestate'] as const;
/** Attributes a received event must carry as strings (missing ones become ''). */
const REQUIRED_STRINGS = ['id', 'source', 'type'] as const;

/** RFC 3339 with whole seconds (as daprd writes `time`), formatted once per second. */
let cachedSecond = NaN;
let cachedTime = '';
function rfc3339Seconds(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedTime = `${new Date(second * 1000).toISOString().slice(0, 19)}Z`;
  }
  return cachedTime;
}
const TEXT_TYPE = /^text\//i;
export const CLOUDEVENT_CONTENT_TYPE = 'application/cloudevents+json';

export { isJsonContentType };

/**
 * Builds the envelope daprd would: a caller's CloudEvent passes through (topic and pubsubname
 * overwritten, defaults added); anything else is wrapped with a new id, `source` = app id and
 * `type` = `com.dapr.event.sent`. JSON data goes in `data`, bytes in `data_base64`.
 */
export function toEnvelope(body: { data?: unknown; bytes?: Buffer; contentType: string; given?: Record<string, unknown> }, ctx: EnvelopeContext): CloudEvent {
  const meta = ctx.metadata;
  let event: CloudEvent;
  if (body.given) {
    event = { ...body.given } as CloudEvent;
    event.specversion ??= '1.0';
    event.source ??= 'Dapr';
    event.type ??= 'com.dapr.event.sent';
  } else {
    event = { specversion: '1.0', id: randomUUID(), source: ctx.appId, type: 'com.dapr.event.sent', datacontenttype: body.contentType };
    if (body.bytes) event.data_base64 = body.bytes.toString('base64');
    else event.data = body.data;
  }
  event.topic = ctx.topic;
  event.pubsubname = ctx.pubsub;
  event.time ??= rfc3339Seconds(ctx.now);
  for (const field of OVERRIDABLE) {
    const override = meta[`cloudevent.${field}`];
    if (override !== undefined) event[field] = override;
  }
  // daprd always writes the three trace fields, empty when the publish carried no trace context.
  event.traceparent ??= '';
  event.traceid ??= event.traceparent;
  event.tracestate ??= '';
  const ttl = meta['ttlInSeconds'];
  if (ttl !== undefined && ctx.addExpiration && Number(ttl) > 0) {
    // daprd's format: RFC 3339 in whole seconds, UTC.
    event.expiration = `${new Date(ctx.now + Number(ttl) * 1000).toISOString().slice(0, 19)}Z`;
  }
  return event;
}

/** Why an incoming message is not a usable CloudEvent, or the event. */
export type ParsedEvent = { ok: true; event: CloudEvent } | { ok: false; reason: string };

/** Parses a broker message as a CloudEvent; never throws. `raw` wraps non-CloudEvent payloads (rawPayload subscriptions). */
export function parseCloudEvent(bytes: Buffer, raw: boolean, topic: string, pubsub: string): ParsedEvent {
  if (raw) return { ok: true, event: receivedEnvelope({ datacontenttype: 'application/octet-stream', data_base64: bytes.toString('base64') }, topic, pubsub) };
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not a JSON object' };
  const event = value as Partial<CloudEvent>;
  if (event.specversion === undefined) {
    // A JSON object that is not a CloudEvent (published raw, by daprd or a producer of its own):
    // daprd delivers it; here it is the data of an envelope made for it.
    return { ok: true, event: receivedEnvelope({ datacontenttype: 'application/json', data: value }, topic, pubsub) };
  }
  if (typeof event.specversion !== 'string') return { ok: false, reason: '"specversion" must be a string' };
  if (!event.specversion.startsWith('1.')) return { ok: false, reason: `unsupported specversion "${event.specversion}"` };
  for (const field of REQUIRED_STRINGS) {
    const v = event[field];
    if (v === undefined) event[field] = '';
    else if (typeof v !== 'string') return { ok: false, reason: `"${field}" must be a string` };
  }
  if (event.data_base64 !== undefined && typeof event.data_base64 !== 'string') return { ok: false, reason: '"data_base64" must be a string' };
  // The object is fresh from JSON.parse: it is completed in place rather than copied.
  return { ok: true, event: event as CloudEvent };
}

/** The envelope made for a received payload that came without one (raw payloads, plain JSON). */
function receivedEnvelope(body: Pick<CloudEvent, 'datacontenttype' | 'data' | 'data_base64'>, topic: string, pubsub: string): CloudEvent {
  return { specversion: '1.0', id: randomUUID(), source: 'Dapr', type: 'com.dapr.event.sent', ...body, topic, pubsubname: pubsub };
}

/** The event's data: parsed JSON, text, or bytes for `data_base64`. */
export function eventData(event: CloudEvent): unknown {
  if (event.data_base64 !== undefined) {
    const bytes = Buffer.from(event.data_base64, 'base64');
    const type = event.datacontenttype ?? '';
    if (isJsonContentType(type)) {
      const parsed = tryParseJson(bytes);
      return parsed.ok ? parsed.value : bytes;
    }
    return TEXT_TYPE.test(type) ? bytes.toString('utf8') : bytes;
  }
  return event.data;
}

/** True when the event carries an `expiration` that has passed. */
export function isExpired(event: CloudEvent, now: number): boolean {
  if (typeof event.expiration !== 'string') return false;
  const at = Date.parse(event.expiration);
  return Number.isFinite(at) && at <= now;
}
