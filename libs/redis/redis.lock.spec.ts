import { randomUUID } from 'node:crypto';
import { SystemClock } from '../../src/runtime/time/system.clock';
import { componentInit } from '../../src/spi/metadata-reader';
import { UnlockStatus } from '../../src/spi/lock.store';
import { noopLogger } from '../../test/support/logger';
import { rawRedis, redisHostPort, requireRedis } from '../../test/support/services';
import { describeLockConformance } from '../conformance/lock.conformance';
import { type RedisLockStore, redisFenceKey, redisLockFactory } from './redis.lock';

async function open(): Promise<RedisLockStore> {
  const store = redisLockFactory.create();
  await store.init(
    componentInit({
      name: 'redislock',
      type: 'lock.redis',
      appId: 'app',
      metadata: { redisHost: redisHostPort() },
      clock: new SystemClock(),
      logger: noopLogger,
      source: '(test)',
    }),
  );
  return store;
}

describeLockConformance('lock.redis', {
  supportsVirtualClock: false,
  async create() {
    await requireRedis();
    const store = await open();
    const peer = await open();
    return {
      store,
      peer,
      forget: async (ids) => {
        const redis = rawRedis();
        await redis.connect();
        try {
          if (ids.length > 0) await redis.del(...ids, ...ids.map(redisFenceKey));
        } finally {
          await redis.quit();
        }
      },
      cleanup: async () => {
        await store.close();
        await peer.close();
      },
    };
  },
});

describe('lock.redis: daprd layout', () => {
  it('the lock is a string key holding the owner with a PX expiry; the fence counter sits beside it; unlock deletes the key', async () => {
    await requireRedis();
    const store = await open();
    const redis = rawRedis();
    await redis.connect();
    const key = `lock||app||layout-${randomUUID()}`;
    try {
      const got = await store.tryLock({ resourceId: key, lockOwner: 'owner-1', expiryInSeconds: 10 });
      expect(got).toEqual({ success: true, fencingToken: '1' });
      expect(await redis.get(key)).toBe('owner-1');
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(8000);
      expect(ttl).toBeLessThanOrEqual(10_000);
      expect(await redis.get(redisFenceKey(key))).toBe('1');
      expect(await store.unlock({ resourceId: key, lockOwner: 'owner-1' })).toEqual({ status: UnlockStatus.Success });
      expect(await redis.exists(key)).toBe(0);
      // A lock daprd set (a plain SET) is honoured: another owner cannot take it, and its owner can release it.
      await redis.set(key, 'daprd-owner', 'PX', 10_000);
      expect(await store.tryLock({ resourceId: key, lockOwner: 'owner-2', expiryInSeconds: 10 })).toEqual({ success: false });
      expect(await store.unlock({ resourceId: key, lockOwner: 'daprd-owner' })).toEqual({ status: UnlockStatus.Success });
    } finally {
      await redis.del(key, redisFenceKey(key));
      await redis.quit();
      await store.close();
    }
  });
});
