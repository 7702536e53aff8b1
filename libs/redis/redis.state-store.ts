import type { Redis, RedisOptions } from 'ioredis';
import { BackendError, SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import { ETagInvalidError, ETagMismatchError } from '../../src/errors/state.errors';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';
import type {
  DeleteRequest,
  GetResponse,
  SetRequest,
  StateFeature,
  StateStore,
  TransactionOperation,
} from '../../src/spi/state.store';
import { REDIS_DURATION, connectRedis, quitRedis, redisOptionsFromMetadata } from './redis.connection';

/*
 * Key layout, identical to daprd's Redis state store so both can share data: every key is a HASH
 * with `data` (the bytes exactly as given) and `version` (an integer bumped by HINCRBY on every
 * write; its decimal string is the etag). TTLs are the key's own Redis expiry.
 *
 * Differences from daprd, all on the write path (the layout is unchanged):
 * - the etag is checked whatever the concurrency mode (daprd ignores it under last-write);
 * - daprd's `first-write` marker field is neither written nor honoured (it is left in place);
 * - a key that is not a hash fails with WRONGTYPE instead of being deleted and overwritten;
 * - the TTL is applied inside the same script as the write, so it is atomic with it.
 */

// KEYS[1]; ARGV: etag ('' = none), data, first-write ('1'/'0'), ttl in ms ('0' = none).
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

// KEYS[1]; ARGV: etag (always given: deletes without one are a plain DEL).
const DELETE_SCRIPT = `
if redis.call("HGET", KEYS[1], "version") ~= ARGV[1] then return redis.error_reply("ETAG_MISMATCH delete") end
return redis.call("DEL", KEYS[1])`;

// KEYS: one per operation; ARGV: 5 per operation (kind 'u'/'d', etag, first-write, data, ttl ms).
// Every check runs (against the state as the transaction evolves) before anything is written.
const TRANSACT_SCRIPT = `
local seen = {}
for i = 1, #KEYS do
  local k, b = KEYS[i], (i - 1) * 5
  local cur = seen[k]
  if cur == nil then cur = redis.call("HGET", k, "version") end
  local etag = ARGV[b + 2]
  if etag ~= "" then
    if cur ~= etag then return redis.error_reply("ETAG_MISMATCH " .. i) end
  elseif ARGV[b + 1] == "u" and ARGV[b + 3] == "1" and cur then
    return redis.error_reply("ETAG_MISMATCH " .. i)
  end
  if ARGV[b + 1] == "u" then seen[k] = tostring((tonumber(cur) or 0) + 1) else seen[k] = false end
end
for i = 1, #KEYS do
  local k, b = KEYS[i], (i - 1) * 5
  if ARGV[b + 1] == "u" then
    redis.call("HSET", k, "data", ARGV[b + 4])
    redis.call("HINCRBY", k, "version", 1)
    if ARGV[b + 5] ~= "0" then redis.call("PEXPIRE", k, ARGV[b + 5]) else redis.call("PERSIST", k) end
  else
    redis.call("DEL", k)
  end
end
return #KEYS`;

/** The client with the scripts above registered by `defineCommand` (EVALSHA, EVAL on NOSCRIPT). */
interface ScriptedRedis extends Redis {
  sidekickSet(key: string, etag: string, data: Buffer | string, firstWrite: string, ttlMs: string): Promise<number>;
  sidekickDelete(key: string, etag: string): Promise<number>;
  sidekickTransact(numKeys: number, ...keysThenArgs: (string | Buffer)[]): Promise<number>;
}

/** Error replies of the scripts: `ETAG_MISMATCH <detail>` (the transaction's detail is the 1-based op index). */
const MISMATCH = /^(?:ERR )?ETAG_MISMATCH (\S+)/;
const VERSION = /^\d+$/;

/** `state.redis`: daprd-compatible hashes in Redis, via ioredis. */
export class RedisStateStore implements StateStore {
  readonly features: readonly StateFeature[] = ['ETAG', 'TRANSACTIONAL', 'TTL', 'ACTOR'];
  private client!: ScriptedRedis;
  private name = 'redis';
  private address = '';
  private logger!: SidekickLogger;
  /** Default TTL (ms, as a string for the scripts) applied when a write gives none; '0' = none. */
  private defaultTtl = '0';
  private closed = false;
  /** Reconnects only after init succeeded: a failed init must not leave a reconnect loop behind. */
  private connected = false;

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.logger = init.logger;
    const options = this.parseMetadata(init);
    const client = (await connectRedis(options, {
      address: this.address,
      clock: init.clock,
      logger: this.logger,
      name: this.name,
      reconnectWhile: () => this.connected && !this.closed,
    })) as ScriptedRedis;
    // defineCommand only registers the scripts on the client (sent by EVALSHA, EVAL on NOSCRIPT): no connection needed.
    client.defineCommand('sidekickSet', { numberOfKeys: 1, lua: SET_SCRIPT });
    client.defineCommand('sidekickDelete', { numberOfKeys: 1, lua: DELETE_SCRIPT });
    client.defineCommand('sidekickTransact', { lua: TRANSACT_SCRIPT });
    this.client = client;
    this.connected = true;
  }

  async close(): Promise<void> {
    if (this.closed || !this.client) return;
    this.closed = true;
    await quitRedis(this.client, this.logger);
  }

  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (err) {
      throw this.mapError(err);
    }
  }

  // Hot path: one HMGET. `expiresAt` is not reported by get/bulkGet: it would take a PTTL on every
  // read for a value only `metadata.ttlExpireTime` uses (the TTL itself is enforced by Redis).
  async get(key: string): Promise<GetResponse | undefined> {
    let reply: (Buffer | null)[];
    try {
      reply = await this.client.hmgetBuffer(key, 'data', 'version');
    } catch (err) {
      throw this.mapError(err);
    }
    return toResponse(reply);
  }

  async bulkGet(keys: readonly string[]): Promise<(GetResponse | undefined)[]> {
    if (keys.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (const key of keys) pipeline.hmgetBuffer(key, 'data', 'version');
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await pipeline.exec();
    } catch (err) {
      throw this.mapError(err);
    }
    if (!replies) throw new BackendError(this.name, `redis at ${this.address}: pipeline was discarded`);
    return replies.map(([err, reply]) => {
      if (err) throw this.mapError(err);
      return toResponse(reply as (Buffer | null)[]);
    });
  }

  async set(request: SetRequest): Promise<void> {
    const etag = this.etagOf(request);
    const firstWrite = request.options?.concurrency === 'first-write' ? '1' : '0';
    try {
      await this.client.sidekickSet(request.key, etag, request.value, firstWrite, this.ttlOf(request));
    } catch (err) {
      throw this.mapError(err, request.key);
    }
  }

  async delete(request: DeleteRequest): Promise<void> {
    const etag = this.etagOf(request);
    try {
      if (etag === '') await this.client.del(request.key);
      else await this.client.sidekickDelete(request.key, etag);
    } catch (err) {
      throw this.mapError(err, request.key);
    }
  }

  async transact(operations: readonly TransactionOperation[]): Promise<void> {
    if (operations.length === 0) return;
    const keys: string[] = [];
    const args: (string | Buffer)[] = [];
    for (const op of operations) {
      const etag = this.etagOf(op.request);
      keys.push(op.request.key);
      if (op.operation === 'upsert') {
        const firstWrite = op.request.options?.concurrency === 'first-write' ? '1' : '0';
        args.push('u', etag, firstWrite, op.request.value, this.ttlOf(op.request));
      } else {
        args.push('d', etag, '0', '', '0');
      }
    }
    try {
      await this.client.sidekickTransact(keys.length, ...keys, ...args);
    } catch (err) {
      // The reply names the 1-based index of the operation whose check failed.
      const index = Number(MISMATCH.exec(errorMessage(err))?.[1]) - 1;
      throw this.mapError(err, operations[index]?.request.key ?? keys.join(', '));
    }
  }

  private etagOf(request: SetRequest | DeleteRequest): string {
    const etag = request.etag;
    if (etag === undefined || etag === '') return '';
    if (!VERSION.test(etag)) throw new ETagInvalidError(this.name, etag);
    return etag;
  }

  private ttlOf(request: SetRequest): string {
    const ttl = request.ttlInSeconds;
    if (ttl === undefined) return this.defaultTtl;
    return ttl > 0 ? String(Math.max(1, Math.round(ttl * 1000))) : '0';
  }

  private mapError(err: unknown, key?: string): SidekickError {
    if (err instanceof SidekickError) return err;
    if (key !== undefined && isMismatch(err)) return new ETagMismatchError(this.name, key);
    return new BackendError(this.name, `redis at ${this.address}: ${errorMessage(err)}`, err);
  }

  /** The shared connection fields (see redis.connection.ts), then `ttlInSeconds` and `timeout`. */
  private parseMetadata(init: ComponentInit): RedisOptions {
    const { options, address } = redisOptionsFromMetadata(init);
    this.address = address;
    const ttl = init.meta.int('ttlInSeconds');
    this.defaultTtl = ttl !== undefined && ttl > 0 ? String(ttl * 1000) : '0';
    const commandTimeout = init.meta.duration('timeout', 0, REDIS_DURATION);
    if (commandTimeout > 0) options.commandTimeout = commandTimeout;
    return options;
  }
}

function toResponse(reply: (Buffer | null)[]): GetResponse | undefined {
  const data = reply[0];
  if (!data) return undefined;
  // A hash without `version` is not one daprd or Sidekick wrote; '0' never matches a write's etag.
  return { data, etag: reply[1] ? reply[1].toString() : '0' };
}

function isMismatch(err: unknown): boolean {
  return err instanceof Error && MISMATCH.test(err.message);
}

export const redisStateStoreFactory: ComponentFactory<RedisStateStore> = {
  type: 'state.redis',
  kind: 'state',
  versions: ['v1'],
  create: () => new RedisStateStore(),
};
