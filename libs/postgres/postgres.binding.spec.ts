import { randomUUID } from 'node:crypto';
import { ConfigError } from '../../src/errors/config.errors';
import { BackendError, SidekickError } from '../../src/errors/sidekick.error';
import { SystemClock } from '../../src/runtime/time/system.clock';
import type { ComponentMetadata } from '../../src/spi/component';
import { noopLogger } from '../../test/support/logger';
import { postgresUrl, requirePostgres } from '../../test/support/services';
import { type PostgresBinding, goDuration, postgresBindingFactory } from './postgres.binding';
import { componentInit } from '../../src/spi/metadata-reader';

async function openBinding(md: ComponentMetadata): Promise<PostgresBinding> {
  const binding = postgresBindingFactory.create();
  await binding.init(
    componentInit({
      name: 'db',
      type: 'bindings.postgresql',
      appId: 'app',
      metadata: md,
      clock: new SystemClock(),
      logger: noopLogger,
      source: 'components/db.yaml',
    }),
  );
  return binding;
}

describe('bindings.postgresql', () => {
  const table = `sk_binding_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let db: PostgresBinding;
  const exec = (sql: string, params?: unknown[]) =>
    db.invoke({ operation: 'exec', data: Buffer.alloc(0), metadata: params ? { sql, params: JSON.stringify(params) } : { sql } });
  const query = async (sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> => {
    const res = await db.invoke({ operation: 'query', data: Buffer.alloc(0), metadata: params ? { sql, params: JSON.stringify(params) } : { sql } });
    return JSON.parse(res.data?.toString() ?? '') as Record<string, unknown>[];
  };

  beforeAll(async () => {
    await requirePostgres();
    db = await openBinding({ url: postgresUrl() }); // daprd's alias of connectionString
    await exec(`CREATE TABLE ${table} (id serial PRIMARY KEY, name text NOT NULL, n int, blob bytea, at timestamptz)`);
  });

  afterAll(async () => {
    if (!db) return;
    await exec(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await db.close();
  });

  it('exec reports rows-affected and daprd timing metadata', async () => {
    const res = await exec(`INSERT INTO ${table} (name, n) VALUES ($1, $2), ($3, $4)`, ['first', 1, 'second', 2]);
    expect(res.data).toBeUndefined();
    expect(res.metadata).toMatchObject({ operation: 'exec', 'rows-affected': '2', sql: expect.stringContaining('INSERT INTO') });
    expect(res.metadata?.['start-time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(res.metadata?.['end-time']).toMatch(/Z$/);
    expect(res.metadata?.['duration']).toMatch(/^(\d+ms|0s|[\d.]+s)$/);
    expect((await exec(`UPDATE ${table} SET n = n + 10 WHERE n IS NOT NULL`)).metadata?.['rows-affected']).toBe('2');
  });

  it('binds parameters: quotes and "; DROP TABLE" are stored as text, never run', async () => {
    const evil = `O'Brien'); DROP TABLE ${table}; --`;
    const res = await exec(`INSERT INTO ${table} (name) VALUES ($1)`, [evil]);
    expect(res.metadata?.['rows-affected']).toBe('1');
    const rows = await query(`SELECT name FROM ${table} WHERE name = $1`, [evil]);
    expect(rows).toEqual([{ name: evil }]);
    const still = await query('SELECT count(*) AS c FROM information_schema.tables WHERE table_name = $1', [table]);
    expect(still).toEqual([{ c: 1 }]);
  });

  it('query returns a JSON array of row objects with JSON-friendly values', async () => {
    await exec(`INSERT INTO ${table} (name, n, blob, at) VALUES ($1, $2, decode($3, 'hex'), $4)`, ['typed', 7, '00ff10', '2026-01-02T03:04:05Z']);
    const rows = await query(`SELECT name, n, blob, at, count(*) OVER () AS total, NULL::text AS nothing FROM ${table} WHERE name = $1`, ['typed']);
    expect(rows).toEqual([
      { name: 'typed', n: 7, blob: Buffer.from([0, 255, 16]).toString('base64'), at: '2026-01-02T03:04:05.000Z', total: 1, nothing: null },
    ]);
    expect(await query(`SELECT * FROM ${table} WHERE false`)).toEqual([]);
    const res = await db.invoke({ operation: 'query', data: Buffer.alloc(0), metadata: { sql: 'SELECT 1 AS one' } });
    expect(res.metadata).toMatchObject({ operation: 'query', sql: 'SELECT 1 AS one' });
    expect(res.metadata?.['rows-affected']).toBeUndefined();
  });

  it('reports bad SQL with the Postgres message, and bad metadata clearly', async () => {
    await expect(exec('SELEKT 1')).rejects.toThrow(/postgresql binding db: error executing query: syntax error at or near "SELEKT" \(SQLSTATE 42601\)/);
    await expect(query(`SELECT * FROM ${table}_missing`)).rejects.toThrow(/relation "sk_binding_\w+_missing" does not exist/);
    const err: unknown = await exec('SELECT 1')
      .then(() => db.invoke({ operation: 'exec', data: Buffer.alloc(0), metadata: {} }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SidekickError);
    expect((err as SidekickError).code).toBe('ERR_INVOKE_OUTPUT_BINDING');
    expect((err as Error).message).toContain('required metadata not set: sql');
    await expect(db.invoke({ operation: 'exec', data: Buffer.alloc(0), metadata: { sql: 'SELECT $1', params: '{"a":1}' } })).rejects.toThrow(
      /params: not a JSON array/,
    );
    await expect(db.invoke({ operation: 'exec', data: Buffer.alloc(0), metadata: { sql: 'SELECT $1', params: '[1,' } })).rejects.toThrow(
      /invalid metadata property params/,
    );
  });

  it('close ends the pool; later operations fail and close again succeeds', async () => {
    const other = await openBinding({ connectionString: postgresUrl() });
    expect(await other.invoke({ operation: 'close', data: Buffer.alloc(0), metadata: {} })).toEqual({});
    await expect(other.invoke({ operation: 'query', data: Buffer.alloc(0), metadata: { sql: 'SELECT 1' } })).rejects.toThrow('component is closed');
    await other.invoke({ operation: 'close', data: Buffer.alloc(0), metadata: {} });
    await other.close();
  });

  it('fails init naming host:port when the server is unreachable', async () => {
    for (const connectionString of ['postgres://postgres@127.0.0.1:1/postgres', 'host=127.0.0.1 port=1 user=postgres']) {
      const err: unknown = await openBinding({ connectionString }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendError);
      expect((err as Error).message).toMatch(/^postgres at 127\.0\.0\.1:1 is unreachable: .*ECONNREFUSED/);
    }
  });

  it('rejects missing or malformed metadata with a ConfigError', async () => {
    const cases: [ComponentMetadata, RegExp][] = [
      [{}, /spec\.metadata\.connectionString: connectionString is required/],
      [{ connectionString: 'just words' }, /spec\.metadata\.connectionString: neither a postgres:\/\/ URL nor key=value pairs/],
      [{ connectionString: postgresUrl(), timeout: 'soon' }, /spec\.metadata\.timeout/],
      [{ connectionString: postgresUrl(), maxConns: 'many' }, /spec\.metadata\.maxConns/],
    ];
    for (const [md, message] of cases) {
      const err: unknown = await openBinding(md).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('formats durations as Go does', () => {
    expect([0, 12, 1500, 60_000, 123_004, 3_600_000].map(goDuration)).toEqual(['0s', '12ms', '1.5s', '1m0s', '2m3.004s', '1h0m0s']);
  });
});
