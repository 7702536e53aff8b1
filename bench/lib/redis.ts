import Redis from 'ioredis';
import { SET_SCRIPT } from '../../libs/redis/redis.state-store';

export const REDIS_HOST = process.env['SIDEKICK_BENCH_REDIS_HOST'] ?? '127.0.0.1';
export const REDIS_PORT = Number(process.env['SIDEKICK_REDIS_PORT'] ?? 6379);
/** Dapr's default key prefix for app id `bench` (keyPrefix appid). */
export const KEY_PREFIX = 'bench||';

/** The component's own set script, so the raw baseline runs exactly the write Sidekick runs. */
export { SET_SCRIPT };

export interface RawRedis extends Redis {
  /** SET_SCRIPT's arguments: version ('0' = none), data, first-write ('1'/'0'), ttl (ms, '-1' persist, '' keep). */
  benchSet(key: string, version: string, data: string, firstWrite: string, ttl: string): Promise<number>;
}

/**
 * The raw driver: one ioredis connection with the same options that matter on the hot path as the
 * Sidekick component (no offline queue, one retry), and the set script registered by `defineCommand`
 * (EVALSHA, EVAL on NOSCRIPT), as the component does.
 */
export async function rawRedis(): Promise<RawRedis> {
  const client = new Redis({
    host: REDIS_HOST,
    port: REDIS_PORT,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectionName: 'bench-raw',
  }) as RawRedis;
  client.defineCommand('benchSet', { numberOfKeys: 1, lua: SET_SCRIPT });
  await client.connect();
  await client.ping();
  return client;
}

/** A JSON object whose `JSON.stringify` is exactly `bytes` long (default 1 KiB). */
export function jsonValue(bytes = 1024): Record<string, unknown> {
  const base = { id: 'order-000042', customer: { name: 'Ada Lovelace', tier: 'gold' }, items: [1, 2, 3], total: 1234.5, note: '' };
  const overhead = JSON.stringify(base).length;
  if (overhead > bytes) throw new Error(`value of ${bytes} bytes is too small`);
  return { ...base, note: 'x'.repeat(bytes - overhead) };
}
