import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { SystemClock } from '../../src/runtime/time/system.clock';
import { componentInit } from '../../src/spi/metadata-reader';
import { noopLogger } from '../../test/support/logger';
import { postgresUrl, requirePostgres } from '../../test/support/services';
import { describeLockConformance } from '../conformance/lock.conformance';
import { type PostgresLockStore, postgresLockFactory } from './postgres.lock';

const table = `sidekick_locks_test_${randomUUID().slice(0, 8)}`;

async function open(): Promise<PostgresLockStore> {
  const store = postgresLockFactory.create();
  await store.init(
    componentInit({
      name: 'pglock',
      type: 'lock.postgresql',
      appId: 'app',
      metadata: { connectionString: postgresUrl(), tableName: table },
      clock: new SystemClock(),
      logger: noopLogger,
      source: '(test)',
    }),
  );
  return store;
}

async function dropTable(): Promise<void> {
  const sql = new Client({ connectionString: postgresUrl() });
  await sql.connect();
  try {
    await sql.query(`DROP TABLE IF EXISTS ${table}`);
  } finally {
    await sql.end();
  }
}

describeLockConformance('lock.postgresql', {
  supportsVirtualClock: false,
  async create() {
    await requirePostgres();
    const store = await open();
    const peer = await open();
    return {
      store,
      peer,
      cleanup: async () => {
        await store.close();
        await peer.close();
        await dropTable();
      },
    };
  },
});

describe('lock.postgresql: leases table', () => {
  it('a grant is a row with the owner, an expiry and the fence; unlock clears the owner and keeps the fence', async () => {
    await requirePostgres();
    const store = await open();
    const sql = new Client({ connectionString: postgresUrl() });
    await sql.connect();
    try {
      const r = `lock||app||row-${randomUUID()}`;
      expect(await store.tryLock({ resourceId: r, lockOwner: 'o1', expiryInSeconds: 10 })).toEqual({ success: true, fencingToken: '1' });
      const held = await sql.query(`SELECT owner, fence, expires_at > now() + interval '8 seconds' AS live FROM ${table} WHERE resource_id = $1`, [r]);
      expect(held.rows).toEqual([{ owner: 'o1', fence: '1', live: true }]);
      await store.unlock({ resourceId: r, lockOwner: 'o1' });
      const freed = await sql.query(`SELECT owner, fence FROM ${table} WHERE resource_id = $1`, [r]);
      expect(freed.rows).toEqual([{ owner: null, fence: '1' }]);
      expect(await store.tryLock({ resourceId: r, lockOwner: 'o2', expiryInSeconds: 10 })).toEqual({ success: true, fencingToken: '2' });
    } finally {
      await sql.end();
      await store.close();
      await dropTable();
    }
  });
});
