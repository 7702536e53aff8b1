import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { BANK_MAIN, type BankInstance, expectCleanChurn, runChurn } from '../support/actor-churn';
import { ensureBuilt } from '../support/processes';
import { postgresUrl, requirePostgres } from '../support/services';

/**
 * Placement under churn on PostgreSQL: three processes of samples/05-actors (ACTOR_STORE=postgres)
 * called continuously from all of them while a fourth joins, one leaves gracefully and one is SIGKILLed.
 */
const LEASE_MS = 3000;
const suffix = randomBytes(3).toString('hex');
const APP_ID = `bankchurnpg${suffix}`;
const TABLE = `actors_churn_${suffix}`;

describe('actor placement under churn on PostgreSQL (join, graceful leave, SIGKILL)', () => {
  let instances: BankInstance[] = [];

  beforeAll(async () => {
    await requirePostgres();
    await ensureBuilt([BANK_MAIN]);
  }, 180_000);

  afterAll(async () => {
    for (const i of instances) if (i.proc.running) await i.proc.stop();
    const pg = new Client({ connectionString: postgresUrl() });
    await pg.connect();
    await pg.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await pg.end();
  }, 60_000);

  it('each actor is active in one instance at a time, and every call that succeeded is applied exactly once', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `churn-${i}`);
    const env = { APP_ID, ACTOR_STORE: 'postgres', POSTGRES_URL: postgresUrl(), POSTGRES_TABLE: TABLE, ACTOR_LEASE_MS: String(LEASE_MS) };
    const run = await runChurn(env, LEASE_MS, ids);
    instances = run.instances;
    expectCleanChurn('PostgreSQL', run.report);
  }, 120_000);
});
