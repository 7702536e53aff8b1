import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { ConfigError } from '../../src/errors/config.errors';
import { SystemClock } from '../../src/runtime/time/system.clock';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import type { Clock } from '../../src/spi/clock';
import type { ComponentMetadata } from '../../src/spi/component';
import { noopLogger } from '../../test/support/logger';
import { postgresUrl, requirePostgres } from '../../test/support/services';
import { STRICT_STATE_RULES } from '../../src/spi/state.rules';
import { describeStateConformance } from '../conformance/state.conformance';
import { createdConcurrently } from './postgres.connection';
import { PostgresStateStore, postgresStateStoreFactory } from './postgres.state-store';
import { componentInit } from '../../src/spi/metadata-reader';

async function openStore(md: ComponentMetadata = { connectionString: postgresUrl() }, clock: Clock = new SystemClock()): Promise<PostgresStateStore> {
  const store = postgresStateStoreFactory.create();
  await store.init(
    componentInit({
      name: 'pg',
      type: 'state.postgresql',
      appId: 'app',
      metadata: md,
      clock,
      logger: noopLogger,
      source: '(test)',
    }),
  );
  return store;
}

describeStateConformance('state.postgresql', {
  supportsVirtualClock: false, // expiry compares with the database's now()
  malformedETag: 'mismatch', // etags are uuids; anything else mismatches, as in daprd's v2 store (checked before querying)
  query: true,
  rules: STRICT_STATE_RULES, // daprd's state.postgresql v2 (components-contrib state/postgresql/v2/postgresql.go)
  async create() {
    await requirePostgres();
    const store = await openStore();
    return { store, cleanup: () => store.close() };
  },
});

describe('state.postgresql: table layout and Postgres specifics', () => {
  const run = randomUUID().slice(0, 8);
  const customTable = `sidekick_test_${run}`;
  let store: PostgresStateStore;
  let sql: Client;

  beforeAll(async () => {
    await requirePostgres();
    store = await openStore();
    sql = new Client({ connectionString: postgresUrl() });
    await sql.connect();
  });

  afterAll(async () => {
    if (sql) {
      await sql.query(`DELETE FROM state WHERE key LIKE $1`, [`app||${run}-%`]);
      await sql.query(`DROP TABLE IF EXISTS ${customTable}, public.${customTable}_q, ${customTable}_v1`);
      await sql.end();
    }
    await store?.close();
  });

  const columns = async (table: string): Promise<Record<string, string>> => {
    const result = await sql.query<{ column_name: string; data_type: string; is_nullable: string }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    return Object.fromEntries(result.rows.map((r) => [r.column_name, `${r.data_type} ${r.is_nullable}`]));
  };

  it('creates the table with daprd v2 columns', async () => {
    expect(await columns('state')).toEqual({
      key: 'text NO',
      value: 'bytea NO',
      etag: 'uuid NO',
      expires_at: 'timestamp with time zone YES',
    });
    const pk = await sql.query(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE i.indrelid = 'public.state'::regclass AND i.indisprimary`,
    );
    expect(pk.rows).toEqual([{ attname: 'key' }]);
  });

  it('stores the exact bytes in value, a uuid etag and the TTL in expires_at', async () => {
    const key = `app||${run}-bytes`;
    const value = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x27, 0x5c, 0x00]);
    await store.set({ key, value, ttlInSeconds: 100 });
    const row = await sql.query<{ value: Buffer; etag: string; ttl: number }>(
      `SELECT value, etag::text AS etag, extract(epoch FROM expires_at - now())::float8 AS ttl FROM state WHERE key = $1`,
      [key],
    );
    expect(row.rows[0]?.value.equals(value)).toBe(true);
    expect(row.rows[0]?.etag).toBe((await store.get(key))?.etag);
    expect(row.rows[0]?.ttl).toBeGreaterThan(90);
    expect(row.rows[0]?.ttl).toBeLessThanOrEqual(100);
  });

  it('uses a custom tableName, plain or schema-qualified, folded to lower case like daprd', async () => {
    const plain = await openStore({ connectionString: postgresUrl(), tableName: customTable.toUpperCase() });
    const qualified = await openStore({ connectionString: postgresUrl(), tableName: `public.${customTable}_q` });
    try {
      await plain.set({ key: 'app||k', value: Buffer.from('plain') });
      await qualified.set({ key: 'app||k', value: Buffer.from('qualified') });
      expect(Object.keys(await columns(customTable))).toEqual(['key', 'value', 'etag', 'expires_at']);
      const rows = await sql.query<{ value: Buffer }>(`SELECT value FROM ${customTable} WHERE key = 'app||k'`);
      expect(rows.rows[0]?.value.toString()).toBe('plain');
      expect((await qualified.get('app||k'))?.data.toString()).toBe('qualified');
      await expect(store.get('app||k')).resolves.toBeUndefined();
    } finally {
      await plain.close();
      await qualified.close();
    }
  });

  it('refuses an invalid tableName and a table with another layout', async () => {
    await expect(openStore({ connectionString: postgresUrl(), tableName: 'state; DROP TABLE x' })).rejects.toBeInstanceOf(ConfigError);
    await sql.query(`CREATE TABLE ${customTable}_v1 (key text PRIMARY KEY, value jsonb NOT NULL, isbinary boolean)`);
    await expect(openStore({ connectionString: postgresUrl(), tableName: `${customTable}_v1` })).rejects.toThrow(/exists with another layout/);
  });

  it('accepts the key=value connection string form', async () => {
    const url = new URL(postgresUrl());
    const parts = [`host=${url.hostname}`, `port=${url.port || 5432}`, `user=${decodeURIComponent(url.username)}`];
    if (url.password) parts.push(`password='${decodeURIComponent(url.password)}'`);
    parts.push(`database=${url.pathname.slice(1) || 'postgres'}`);
    const kv = await openStore({ connectionString: parts.join(' ') });
    try {
      await expect(kv.ping()).resolves.toBeUndefined();
    } finally {
      await kv.close();
    }
  });

  it('deletes expired rows every cleanupInterval of the injected clock', async () => {
    const clock = new VirtualClock();
    const swept = await openStore({ connectionString: postgresUrl(), cleanupInterval: '10s' }, clock);
    try {
      const key = `app||${run}-sweep`;
      await sql.query(`INSERT INTO state (key, value, etag, expires_at) VALUES ($1, 'x', gen_random_uuid(), now() - interval '1 minute')`, [key]);
      await clock.advance(10_000);
      for (let i = 0; i < 100; i++) {
        const left = await sql.query('SELECT 1 FROM state WHERE key = $1', [key]);
        if (left.rowCount === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect((await sql.query('SELECT 1 FROM state WHERE key = $1', [key])).rowCount).toBe(0);
      expect(clock.pendingTimers).toBe(1); // the next sweep is scheduled
    } finally {
      await swept.close();
    }
    expect(clock.pendingTimers).toBe(0);
  });

  it('fails init against a closed port, naming the address', async () => {
    await expect(openStore({ connectionString: 'postgres://postgres@127.0.0.1:1/postgres' })).rejects.toThrow(/postgres at 127\.0\.0\.1:1 is unreachable: /);
    await expect(openStore({ connectionString: 'host=127.0.0.1 port=1 user=postgres' })).rejects.toThrow(/127\.0\.0\.1:1/);
  });

  it('requires connectionString', async () => {
    await expect(openStore({})).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('state.postgresql: several processes starting at once on a new table', () => {
  it("counts a duplicate catalog key, table or row type (the losing side of PostgreSQL's create race) as created concurrently, nothing else", () => {
    expect(['23505', '42P07', '42710'].map((code) => createdConcurrently({ code }))).toEqual([true, true, true]);
    expect(createdConcurrently({ code: '42501' })).toBe(false);
    expect(createdConcurrently(new Error('boom'))).toBe(false);
  });

  it('eight stores initialising together on a table that does not exist yet all start (the create race is not an error), fifteen times', async () => {
    await requirePostgres();
    const sql = new Client({ connectionString: postgresUrl() });
    await sql.connect();
    const tables: string[] = [];
    try {
      for (let round = 0; round < 15; round++) {
        const table = `sidekick_race_${randomUUID().slice(0, 8)}`;
        tables.push(table);
        const opened = await Promise.allSettled(Array.from({ length: 8 }, () => openStore({ connectionString: postgresUrl(), tableName: table })));
        const failed = opened.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason));
        for (const r of opened) if (r.status === 'fulfilled') await r.value.close();
        expect(failed).toEqual([]);
        const rows = await sql.query('SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = $1', [table]);
        expect(rows.rows[0]).toEqual({ n: 1 });
      }
    } finally {
      for (const table of tables) await sql.query(`DROP TABLE IF EXISTS ${table}`);
      await sql.end();
    }
  });
});
