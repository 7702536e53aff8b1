import type { Redis } from 'ioredis';
import { BackendError, errorMessage } from '../../src/errors/sidekick.error';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';
import { type LockStore, type TryLockRequest, type TryLockResponse, type UnlockRequest, type UnlockResponse, UnlockStatus } from '../../src/spi/lock.store';
import { REDIS_DURATION, connectRedis, quitRedis, redisOptionsFromMetadata } from './redis.connection';

/*
 * `lock.redis`, in daprd's layout so a daprd sidecar and a Sidekick app share locks: the lock is the
 * string key (Dapr's `lock||<appId>||<resourceId>`) holding the owner, set with SET NX PX, and an
 * unlock deletes it only when it still holds the caller's owner (one Lua script, as daprd's).
 *
 * Beyond daprd: the grant also INCRs the counter key `sidekick-fence||<lock key>` in the same script,
 * whose new value is the grant's fencing token. The counter has no expiry, so tokens never go back
 * (deleting the counter by hand would restart them at 1).
 */

// KEYS[1] lock, KEYS[2] fence counter; ARGV owner, expiry ms. Returns the token, or 0 when held.
const TRY_LOCK_SCRIPT = `
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
  return redis.call("INCR", KEYS[2])
end
return 0`;

// daprd's unlock script: 1 deleted, -1 missing, -2 held by another owner.
const UNLOCK_SCRIPT = `
local v = redis.call("GET", KEYS[1])
if v == false then return -1 end
if v ~= ARGV[1] then return -2 end
return redis.call("DEL", KEYS[1])`;

interface ScriptedRedis extends Redis {
  sidekickTryLock(lockKey: string, fenceKey: string, owner: string, expiryMs: string): Promise<number>;
  sidekickUnlock(lockKey: string, owner: string): Promise<number>;
}

/** The counter key of a lock key's fencing tokens. */
export function redisFenceKey(lockKey: string): string {
  return `sidekick-fence||${lockKey}`;
}

export class RedisLockStore implements LockStore {
  private client!: ScriptedRedis;
  private name = 'redis-lock';
  private address = '';
  private logger!: SidekickLogger;
  private closed = false;
  private connected = false;

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.logger = init.logger;
    const { options, address } = redisOptionsFromMetadata(init);
    this.address = address;
    const commandTimeout = init.meta.duration('timeout', 0, REDIS_DURATION);
    if (commandTimeout > 0) options.commandTimeout = commandTimeout;
    const client = (await connectRedis(options, {
      address,
      clock: init.clock,
      logger: this.logger,
      name: this.name,
      reconnectWhile: () => this.connected && !this.closed,
    })) as ScriptedRedis;
    client.defineCommand('sidekickTryLock', { numberOfKeys: 2, lua: TRY_LOCK_SCRIPT });
    client.defineCommand('sidekickUnlock', { numberOfKeys: 1, lua: UNLOCK_SCRIPT });
    this.client = client;
    this.connected = true;
  }

  async close(): Promise<void> {
    if (this.closed || !this.client) return;
    this.closed = true;
    await quitRedis(this.client, this.logger);
  }

  async ping(): Promise<void> {
    await this.call(() => this.client.ping());
  }

  async tryLock(request: TryLockRequest): Promise<TryLockResponse> {
    const token = await this.call(() =>
      this.client.sidekickTryLock(request.resourceId, redisFenceKey(request.resourceId), request.lockOwner, String(request.expiryInSeconds * 1000)),
    );
    return token > 0 ? { success: true, fencingToken: String(token) } : { success: false };
  }

  async unlock(request: UnlockRequest): Promise<UnlockResponse> {
    const reply = await this.call(() => this.client.sidekickUnlock(request.resourceId, request.lockOwner));
    if (reply === -1) return { status: UnlockStatus.LockDoesNotExist };
    if (reply === -2) return { status: UnlockStatus.LockBelongsToOthers };
    return { status: reply === 1 ? UnlockStatus.Success : UnlockStatus.InternalError };
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new BackendError(this.name, `redis at ${this.address}: ${errorMessage(err)}`, err);
    }
  }
}

export const redisLockFactory: ComponentFactory<RedisLockStore> = {
  type: 'lock.redis',
  kind: 'lock',
  versions: ['v1'],
  create: () => new RedisLockStore(),
};
