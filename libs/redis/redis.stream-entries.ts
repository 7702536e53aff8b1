import type { ReceivedMessage } from '../../src/spi/pubsub';

/** Metadata key of the stream entry id on received messages. */
export const REDIS_STREAM_ID = 'redisStreamId';

/** One stream entry as a message. */
export interface Entry {
  readonly id: string;
  readonly message: ReceivedMessage;
}

/** XREADGROUP reply: `[[stream, [[id, [field, value, ...]], ...]]]`, or null on timeout. */
export function readEntries(reply: unknown, topic: string): Entry[] {
  const found: Entry[] = [];
  if (!Array.isArray(reply)) return found;
  for (const stream of reply as unknown[]) if (Array.isArray(stream)) found.push(...parseEntries(stream[1], topic).found);
  return found;
}

export function parseEntries(raw: unknown, topic: string): { found: Entry[]; deleted: string[] } {
  const found: Entry[] = [];
  const deleted: string[] = [];
  if (!Array.isArray(raw)) return { found, deleted };
  for (const item of raw as unknown[]) {
    if (!Array.isArray(item) || item[0] === undefined || item[0] === null) continue;
    const id = String(item[0]);
    const fields: unknown = item[1];
    if (!Array.isArray(fields)) {
      deleted.push(id);
      continue;
    }
    found.push({ id, message: toMessage(id, fields as Buffer[], topic) });
  }
  return { found, deleted };
}

/** Field `data` is the payload; field `metadata` (daprd's JSON) and any other fields become metadata. */
function toMessage(id: string, fields: readonly Buffer[], topic: string): ReceivedMessage {
  let data = Buffer.alloc(0);
  const metadata: Record<string, string> = {};
  let published: Record<string, string> | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = String(fields[i]);
    const value = fields[i + 1] as Buffer;
    // A copy: ioredis may hand out views of a parser buffer it reuses.
    if (name === 'data') data = Buffer.from(value);
    else if (name === 'metadata') published = parseMetadataField(value.toString('utf8'));
    else metadata[name] = value.toString('utf8');
  }
  // The published metadata wins over other fields, the stream id over both.
  if (published) Object.assign(metadata, published);
  metadata[REDIS_STREAM_ID] = id;
  return { topic, data, metadata };
}

function parseMetadataField(json: string): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(json);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  } catch {
    return {};
  }
}
