import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';

export const REDIS_HOST = process.env['SIDEKICK_BENCH_REDIS_HOST'] ?? '127.0.0.1';
export const REDIS_PORT = Number(process.env['SIDEKICK_REDIS_PORT'] ?? 6379);
/** Dapr's default key prefix for app id `bench` (keyPrefix appid). */
export const KEY_PREFIX = 'bench||';

/*
 * Copied verbatim from libs/redis/redis-state.store.ts (SET_SCRIPT), so the raw baseline runs exactly
 * the write Sidekick runs. `assertSameSetScript()` checks the copy is still current.
 * KEYS[1]; ARGV: etag ('' = none), data, first-write ('1'/'0'), ttl in ms ('0' = none).
 */
export const SET_SCRIPT = `
local v = redis.call("HGET", KEYS[1], "version")
if ARGV[1] ~= "" then
  if v ~= ARGV[1] then return redis.error_reply("ETAG_MISMATCH set") end
elseif ARGV[3] == "1" and v then
  return redis.error_reply("ETAG_MISMATCH first-write")
end
redis.call("HSET", KEYS[1], "data", ARGV[2])
local n = redis.call("HINCRBY", KEYS[1], "version", 1)
if ARGV[4] ~= "0" then redis.call("PEXPIRE", KEYS[1], ARGV[4]) else redis.call("PERSIST", KEYS[1]) end
return n`;

/** Fails when libs/redis/redis-state.store.ts no longer contains the script above (the baseline would drift). */
export function assertSameSetScript(projectRoot: string): void {
  const source = readFileSync(join(projectRoot, 'libs/redis/redis-state.store.ts'), 'utf8');
  const found = /const SET_SCRIPT = `([\s\S]*?)`;/.exec(source)?.[1];
  if (found !== SET_SCRIPT) {
    throw new Error('bench/lib/redis.ts: SET_SCRIPT differs from the one in libs/redis/redis-state.store.ts; copy it again');
  }
}

export interface RawRedis extends Redis {
  benchSet(key: string, etag: string, data: string, firstWrite: string, ttlMs: string): Promise<number>;
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
