import type { Redis, RedisOptions } from 'ioredis';
import { BackendError, SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import { ETagInvalidError, ETagMismatchError } from '../../src/errors/state.errors';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';
import type { DeleteRequest, GetResponse, SetRequest, StateFeature, StateStore, TransactionOperation } from '../../src/spi/state.store';
import { REDIS_DURATION, connectRedis, quitRedis, redisOptionsFromMetadata } from './redis.connection';

/*
 * Key layout, identical to daprd's Redis state store so both can share data: every key is a HASH
 * with `data` (the bytes exactly as given) and `version` (an integer bumped by HINCRBY on every
 * write; its decimal string is the etag). A save with `first-write` concurrency also sets the field
 * `first-write` (daprd's marker). TTLs are the key's own Redis expiry.
 *
 * The write rules are daprd's (REDIS_STATE_RULES in src/spi/state.rules.ts, from the setDefaultQuery and
 * delDefaultQuery scripts of components-contrib state/redis/redis.go): a save passes a version, `0` for
 * none (no etag, the etag "0", or an explicit last-write, which ignores the etag), and writes when the
 * key is missing, its version matches, or the version is 0 and the key has no `first-write` marker.
 * A delete writes when the key is missing, its version matches, or the etag is "0". A save without
 * a TTL keeps the key's expiry; a TTL <= 0 (-1) removes it.
 *
 * Differences from daprd, none of them in the layout:
 * - a transaction checks every operation before writing anything (daprd's MULTI runs each script
 *   on its own, so a failed check leaves the earlier operations applied);
 * - a key that is not a hash fails with WRONGTYPE instead of being deleted and overwritten;
 * - the TTL is applied inside the same script as the write, so it is atomic with it.
 */

// KEYS[1]; ARGV: version ('0' = none), data, first-write ('1' sets the marker), ttl: ms, '-1' persist, '' keep.
export const SET_SCRIPT = `
local v = redis.call("HGET", KEYS[1], "version")
if v and v ~= "" and v ~= ARGV[1] and (ARGV[1] ~= "0" or redis.call("HEXISTS", KEYS[1], "first-write") == 1) then
  return redis.error_reply("ETAG_MISMATCH set")
end
redis.call("HSET", KEYS[1], "data", ARGV[2])
if ARGV[3] == "1" then redis.call("HSET", KEYS[1], "first-write", 0) end
local n = redis.call("HINCRBY", KEYS[1], "version", 1)
if ARGV[4] == "-1" then redis.call("PERSIST", KEYS[1]) elseif ARGV[4] ~= "" then redis.call("PEXPIRE", KEYS[1], ARGV[4]) end
return n`;

// KEYS[1]; ARGV: etag (always given: deletes without one are a plain DEL; '0' = none, as in daprd).
const DELETE_SCRIPT = `
local v = redis.call("HGET", KEYS[1], "version")
if v and v ~= "" and v ~= ARGV[1] and ARGV[1] ~= "0" then return redis.error_reply("ETAG_MISMATCH delete") end
return redis.call("DEL", KEYS[1])`;

// KEYS: one per operation; ARGV: 4 per operation (kind 'u'/'d', version or etag ('0' = none), data, ttl).
// Every check runs (against the state as the transaction evolves) before anything is written. As in
// daprd's Multi, upserts honour the first-write marker but never set it.
const TRANSACT_SCRIPT = `
local ver, mark = {}, {}
for i = 1, #KEYS do
  local k, b = KEYS[i], (i - 1) * 4
  if ver[k] == nil then
    ver[k] = redis.call("HGET", k, "version")
    mark[k] = redis.call("HEXISTS", k, "first-write") == 1
  end
  local v, e, upsert = ver[k], ARGV[b + 2], ARGV[b + 1] == "u"
  if v and v ~= "" and v ~= e and (e ~= "0" or (upsert and mark[k])) then
    return redis.error_reply("ETAG_MISMATCH " .. i)
  end
  if upsert then ver[k] = tostring((tonumber(v) or 0) + 1) else ver[k] = false; mark[k] = false end
end
for i = 1, #KEYS do
  local k, b = KEYS[i], (i - 1) * 4
  if ARGV[b + 1] == "u" then
    redis.call("HSET", k, "data", ARGV[b + 3])
    redis.call("HINCRBY", k, "version", 1)
    local ttl = ARGV[b + 4]
    if ttl == "-1" then redis.call("PERSIST", k) elseif ttl ~= "" then redis.call("PEXPIRE", k, ttl) end
  else
    redis.call("DEL", k)
  end
end
return #KEYS`;

/** The client with the scripts above registered by `defineCommand` (EVALSHA, EVAL on NOSCRIPT). */
interface ScriptedRedis extends Redis {
  sidekickSet(key: string, version: string, data: Buffer | string, firstWrite: string, ttl: string): Promise<number>;
  sidekickDelete(key: string, etag: string): Promise<number>;
  sidekickTransact(numKeys: number, ...keysThenArgs: (string | Buffer)[]): Promise<number>;
}

/** Error replies of the scripts: `ETAG_MISMATCH <detail>` (the transaction's detail is the 1-based op index). */
const MISMATCH = /^(?:ERR )?ETAG_MISMATCH (\S+)/;
/** What Go's strconv.Atoi takes (daprd parses a save's etag with it). */
const INTEGER = /^[+-]?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** A delete's etag: a decimal version (compared as given, as daprd's delete script does). */
const VERSION = /^\d+$/;

/** `state.redis`: daprd-compatible hashes in Redis, via ioredis. */
export class RedisStateStore implements StateStore {
  readonly features: readonly StateFeature[] = ['ETAG', 'TRANSACTIONAL', 'TTL', 'ACTOR'];
  private client!: ScriptedRedis;
  private name = 'redis';
  private address = '';
  private logger!: SidekickLogger;
  /** Default TTL (ms, as a string for the scripts) applied when a write gives none; '' = none (the key keeps its expiry). */
  private defaultTtl = '';
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
    const version = this.versionOf(request);
    const firstWrite = request.options?.concurrency === 'first-write' ? '1' : '0';
    try {
      await this.client.sidekickSet(request.key, version, request.value, firstWrite, this.ttlOf(request));
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
      keys.push(op.request.key);
      if (op.operation === 'upsert') args.push('u', this.versionOf(op.request), op.request.value, this.ttlOf(op.request));
      else args.push('d', this.etagOf(op.request) || '0', '', '');
    }
    try {
      await this.client.sidekickTransact(keys.length, ...keys, ...args);
    } catch (err) {
      // The reply names the 1-based index of the operation whose check failed.
      const index = Number(MISMATCH.exec(errorMessage(err))?.[1]) - 1;
      throw this.mapError(err, operations[index]?.request.key ?? keys.join(', '));
    }
  }

  /**
   * A save's version for the scripts, as daprd's parseETag gives it: '0' (none) without an etag or
   * under an explicit last-write (which ignores the etag, even a malformed one); else the etag read
   * as a Go int (`007` is 7), ETagInvalidError if it is not one.
   */
  private versionOf(request: SetRequest): string {
    const etag = request.etag;
    if (etag === undefined || etag === '' || request.options?.concurrency === 'last-write') return '0';
    const version = INTEGER.test(etag) ? BigInt(etag) : undefined;
    if (version === undefined || version < INT64_MIN || version > INT64_MAX) throw new ETagInvalidError(this.name, etag);
    return version.toString();
  }

  /** A delete's etag ('' = none), compared as given by the script. */
  private etagOf(request: DeleteRequest): string {
    const etag = request.etag;
    if (etag === undefined || etag === '') return '';
    if (!VERSION.test(etag)) throw new ETagInvalidError(this.name, etag);
    return etag;
  }

  /** The scripts' TTL: milliseconds, '-1' to remove the expiry (a TTL <= 0), '' to keep it (no TTL, no default). */
  private ttlOf(request: SetRequest): string {
    const ttl = request.ttlInSeconds;
    if (ttl === undefined) return this.defaultTtl;
    return ttl > 0 ? String(Math.max(1, Math.round(ttl * 1000))) : '-1';
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
    this.defaultTtl = ttl !== undefined && ttl > 0 ? String(ttl * 1000) : '';
    const commandTimeout = init.meta.duration('timeout', 0, REDIS_DURATION);
    if (commandTimeout > 0) options.commandTimeout = commandTimeout;
    return options;
  }
}

function toResponse(reply: (Buffer | null)[]): GetResponse | undefined {
  const data = reply[0];
  if (!data) return undefined;
  // A hash without `version` is not one daprd or Sidekick wrote; '0' is the etag that means none.
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
