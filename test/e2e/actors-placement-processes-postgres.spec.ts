import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { describePlacementAcrossProcesses } from '../support/actor-placement-suite';
import { postgresUrl, requirePostgres } from '../support/services';

/**
 * Placement across three processes of samples/05-actors on PostgreSQL (ACTOR_STORE=postgres): 300 actors,
 * SIGKILL with reminders, SIGSTOP past the lease (the suite: test/support/actor-placement-suite.ts).
 */
const LEASE_MS = 3000;
const suffix = randomBytes(3).toString('hex');
const TABLE = `actors_procs_${suffix}`;

describePlacementAcrossProcesses('PostgreSQL', {
  env: { APP_ID: `bankpg${suffix}`, ACTOR_STORE: 'postgres', POSTGRES_URL: postgresUrl(), POSTGRES_TABLE: TABLE, ACTOR_LEASE_MS: String(LEASE_MS) },
  leaseMs: LEASE_MS,
  requireStore: requirePostgres,
  cleanup: async () => {
    const pg = new Client({ connectionString: postgresUrl() });
    await pg.connect();
    await pg.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await pg.end();
  },
});
