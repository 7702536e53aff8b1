import { randomBytes } from 'node:crypto';
import { describePlacementAcrossProcesses } from '../support/actor-placement-suite';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

/** Placement across three processes of samples/05-actors on Redis (the suite: test/support/actor-placement-suite.ts). */
const LEASE_MS = 3000;
const APP_ID = `bankp${randomBytes(3).toString('hex')}`;

describePlacementAcrossProcesses('Redis', {
  env: { APP_ID, REDIS_HOST: redisHostPort(), ACTOR_LEASE_MS: String(LEASE_MS) },
  leaseMs: LEASE_MS,
  requireStore: requireRedis,
  cleanup: async () => {
    const redis = rawRedis();
    await redis.connect();
    for (const pattern of [`${APP_ID}||*`, `actors||${APP_ID}||*`]) {
      const keys = await redis.keys(pattern);
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
  },
});
