import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { ConfigError } from '../../src/errors/config.errors';
import { SystemClock } from '../../src/runtime/time/system.clock';
import type { ComponentMetadata } from '../../src/spi/component';
import { componentInit } from '../../src/spi/metadata-reader';
import { Collector } from '../../test/support/collector';
import { noopLogger } from '../../test/support/logger';
import { postgresUrl, requirePostgres } from '../../test/support/services';
import { describeConfigurationConformance } from '../conformance/configuration.conformance';
import { configurationTableSql, type PostgresConfigurationStore, postgresConfigurationStoreFactory } from './postgres.configuration-store';

async function openStore(md: ComponentMetadata): Promise<PostgresConfigurationStore> {
  const store = postgresConfigurationStoreFactory.create();
  await store.init(
    componentInit({
      name: 'pcfg',
      type: 'configuration.postgresql',
      appId: 'app',
      metadata: md,
      clock: new SystemClock(),
      logger: noopLogger,
      source: '(test)',
    }),
  );
  return store;
}

/** A connection for the test's own SQL (what a user does with psql). */
async function sqlClient(): Promise<Client> {
  const sql = new Client({ connectionString: postgresUrl() });
  await sql.connect();
  return sql;
}

/** Upsert as a user of daprd's table does it (the table has no primary key: UPDATE, else INSERT). */
async function upsert(sql: Client, table: string, key: string, value: string, version: string, metadata?: Readonly<Record<string, string>>): Promise<void> {
  const meta = metadata ? JSON.stringify(metadata) : null;
  const updated = await sql.query(`UPDATE ${table} SET value = $2, version = $3, metadata = $4 WHERE key = $1`, [key, value, version, meta]);
  if (updated.rowCount === 0) await sql.query(`INSERT INTO ${table} (key, value, version, metadata) VALUES ($1, $2, $3, $4)`, [key, value, version, meta]);
}

const run = randomUUID().slice(0, 8);
const table = `cfgp_${run}`;
const channel = `cfgp_${run}`;

describeConfigurationConformance('configuration.postgresql', {
  supportsItemMetadata: true,
  deliversEveryWrite: true, // each notification carries its row
  subscribeMetadata: { pgNotifyChannel: channel },
  async create() {
    await requirePostgres();
    const sql = await sqlClient();
    await sql.query(configurationTableSql(table, channel));
    const store = await openStore({ connectionString: postgresUrl(), table });
    return {
      store,
      writer: {
        set: (key, value, version, metadata) => upsert(sql, table, key, value, version, metadata),
        delete: async (key) => void (await sql.query(`DELETE FROM ${table} WHERE key = $1`, [key])),
      },
      cleanup: async () => {
        await store.close();
        await sql.query(`DROP TABLE IF EXISTS ${table}; DROP FUNCTION IF EXISTS ${table}_notify()`);
        await sql.end();
      },
    };
  },
});

describe('configuration.postgresql: daprd table and Postgres specifics', () => {
  const own = `cfgq_${run}`;
  let sql: Client;
  let store: PostgresConfigurationStore;

  beforeAll(async () => {
    await requirePostgres();
    sql = await sqlClient();
    await sql.query(configurationTableSql(own, own));
    store = await openStore({ connectionString: postgresUrl(), table: own, pgNotifyChannel: own });
  });

  afterAll(async () => {
    await store?.close();
    await sql?.query(`DROP TABLE IF EXISTS ${own}; DROP FUNCTION IF EXISTS ${own}_notify()`);
    await sql?.end();
  });

  it('of several rows of one key, the highest numeric version wins (daprd)', async () => {
    await sql.query(`INSERT INTO ${own} (key, value, version) VALUES ('dup', 'old', '2'), ('dup', 'new', '10'), ('dup', 'odd', 'x')`);
    expect((await store.get(['dup']))['dup']).toEqual({ value: 'new', version: '10', metadata: {} });
  });

  it("subscribes on the component's pgNotifyChannel when the request names none", async () => {
    const seen = new Collector<string>();
    const stop = await store.subscribe(['dflt'], (u) => seen.push(`${u.items['dflt']?.value}`));
    try {
      await sql.query(`INSERT INTO ${own} (key, value, version) VALUES ('dflt', 'hello', '1')`);
      await seen.waitFor(1);
      expect(seen.items).toEqual(['hello']);
    } finally {
      await stop();
    }
  });

  it('a missing table fails start-up naming the field and printing the SQL to create it', async () => {
    const err = await openStore({ connectionString: postgresUrl(), table: `nope_${run}` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/configuration table 'nope_\w+' does not exist/);
    expect((err as ConfigError).message).toMatch(/CREATE TABLE IF NOT EXISTS nope_\w+ \(KEY VARCHAR NOT NULL/);
    expect((err as ConfigError).field).toBe('spec.metadata.table');
  });

  it('a table name that is not lower case is refused, as daprd documents', async () => {
    await expect(openStore({ connectionString: postgresUrl(), table: 'MyConfig' })).rejects.toThrow(/not a valid table name/);
  });

  it('a subscribe without pgNotifyChannel fails with daprd message', async () => {
    const bare = await openStore({ connectionString: postgresUrl(), table: own });
    try {
      await expect(bare.subscribe(['k'], () => undefined)).rejects.toThrow(/pgNotifyChannel attribute cannot be empty/);
    } finally {
      await bare.close();
    }
  });
});
