import { randomBytes } from 'node:crypto';
import { BANK_MAIN, type BankInstance, expectCleanChurn, runChurn } from '../support/actor-churn';
import { ensureBuilt } from '../support/processes';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

/**
 * Placement under churn on Redis: three processes of samples/05-actors called continuously from all of
 * them while a fourth joins, one leaves gracefully and one is SIGKILLed.
 */
const LEASE_MS = 3000;
const APP_ID = `bankchurn${randomBytes(3).toString('hex')}`;

describe('actor placement under churn on Redis (join, graceful leave, SIGKILL)', () => {
  let instances: BankInstance[] = [];

  beforeAll(async () => {
    await requireRedis();
    await ensureBuilt([BANK_MAIN]);
  }, 180_000);

  afterAll(async () => {
    for (const i of instances) if (i.proc.running) await i.proc.stop();
    const redis = rawRedis();
    await redis.connect();
    for (const pattern of [`${APP_ID}||*`, `actors||${APP_ID}||*`]) {
      const keys = await redis.keys(pattern);
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
  }, 60_000);

  it('each actor is active in one instance at a time, and every call that succeeded is applied exactly once', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `churn-${i}`);
    const run = await runChurn({ APP_ID, REDIS_HOST: redisHostPort(), ACTOR_LEASE_MS: String(LEASE_MS) }, LEASE_MS, ids);
    instances = run.instances;
    expectCleanChurn('Redis', run.report);
  }, 120_000);
});
