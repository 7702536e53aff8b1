/**
 * The one place values become bytes and bytes become values, with Dapr's rules. State, pub/sub,
 * bindings, the HTTP routes and components all use these; nothing else parses "JSON or text".
 */

/** A value as daprd's HTTP API stores it: JSON, except bytes (`Buffer`/`Uint8Array`), which pass through. */
export function encodeJson(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return Buffer.from(JSON.stringify(value ?? null));
}

/** Like {@link encodeJson}, but JSON stays a string: drivers write strings as UTF-8 without a Buffer copy. */
export function encodeJsonText(value: unknown): Buffer | string {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return encodeJson(value);
  return JSON.stringify(value ?? null);
}

/** Bytes parsed as JSON when they are JSON, else the UTF-8 text. */
export function decodeJsonOrText(data: Buffer | string): unknown {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The JSON value of the bytes, or `undefined` when they are not JSON. */
export function tryParseJson(data: Buffer | string): { ok: true; value: unknown } | { ok: false; error: Error } {
  try {
    return { ok: true, value: JSON.parse(typeof data === 'string' ? data : data.toString('utf8')) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
  }
}

/** Stored bytes embedded in a JSON document: raw when they are JSON (as daprd does), else as a JSON string. */
export function embedAsJson(data: Buffer): string {
  const text = data.toString('utf8');
  return tryParseJson(text).ok ? text : JSON.stringify(text);
}

/** A raw payload (no envelope): bytes as given, strings as UTF-8, anything else as JSON. */
export function rawPayload(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data);
  if (typeof data === 'string') return Buffer.from(data);
  return Buffer.from(JSON.stringify(data ?? null));
}

export function toBase64(data: Buffer): string {
  return data.toString('base64');
}

export function fromBase64(text: string): Buffer {
  return Buffer.from(text, 'base64');
}

const JSON_TYPE = /^application\/(.+\+)?json(;|$)/i;

/** `application/json`, `application/cloudevents+json`, `application/x+json; charset=...`. */
export function isJsonContentType(type: string | undefined): boolean {
  return type !== undefined && JSON_TYPE.test(type);
}
