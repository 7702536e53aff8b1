import type { Pool, PoolClient, QueryConfig } from 'pg';
import { BackendError, SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import { ETagMismatchError } from '../../src/errors/state.errors';
import type { Clock, TimerHandle } from '../../src/spi/clock';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';
import { hasTtl } from '../../src/spi/state.rules';
import { createdConcurrently, isUnreachable, parseConnectionString } from './postgres.connection';
import { ensureQueryFunction, postgresQuery } from './postgres.query';
import { pageOf, type StateQueryRequest, type StateQueryResponse } from '../../src/spi/state.query';
import type { DeleteRequest, GetResponse, SetRequest, StateFeature, StateStore, TransactionOperation } from '../../src/spi/state.store';

interface Row {
  readonly key: string;
  readonly value: Buffer;
  readonly etag: string;
  readonly expires_at: Date | null;
}

type Queryable = Pick<PoolClient, 'query'>;

/** `schema.table` or `table`, each part a plain SQL identifier. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_TIMEOUT_MS = 20_000;
const DEFAULT_CLEANUP_MS = 3_600_000;

/**
 * `state.postgresql`, modelled on daprd's PostgreSQL v2 state store: one row per key
 * (`key text PRIMARY KEY, value bytea, etag uuid, expires_at timestamptz`), created if missing.
 * Expiry is compared with the database's `now()`, so TTLs follow the server clock; the injected
 * clock only schedules the periodic DELETE of expired rows (`cleanupInterval`).
 */
export class PostgresStateStore implements StateStore {
  readonly features: readonly StateFeature[] = ['ETAG', 'TRANSACTIONAL', 'TTL', 'ACTOR', 'QUERY_API'];
  private table = '';
  private queryReady?: Promise<void>;
  private pool?: Pool;
  private name = 'postgresql';
  private address = '';
  private logger!: SidekickLogger;
  private clock!: Clock;
  private sql!: ReturnType<typeof statements>;
  private cleanupTimer?: TimerHandle;
  private closed = false;

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.logger = init.logger;
    this.clock = init.clock;
    const meta = init.meta;
    const connectionString = meta.required('connectionString', 'e.g. postgres://user:password@localhost:5432/db or "host=localhost user=postgres"');
    const table = meta.text('tableName', 'state');
    if (!TABLE_NAME.test(table)) {
      throw meta.error('tableName', `"${table}" is not a valid table name (letters, digits, _; optionally schema.table)`);
    }
    const timeout = meta.duration('timeout', DEFAULT_TIMEOUT_MS, { min: 1 });
    const cleanupInterval = meta.duration('cleanupInterval', DEFAULT_CLEANUP_MS);

    const connection = parseConnectionString(connectionString, { file: init.source, component: init.name, field: 'spec.metadata.connectionString' });
    this.address = connection.address;
    // Unquoted identifiers fold to lower case, so daprd's `tableName: myState` is the table "mystate".
    this.table = table
      .split('.')
      .map((part) => `"${part.toLowerCase()}"`)
      .join('.');
    this.sql = statements(
      table
        .split('.')
        .map((part) => `"${part.toLowerCase()}"`)
        .join('.'),
    );
    // Loaded on first use: an app without a PostgreSQL component never pays for pg (about 75 ms and 7 MB).
    const { Pool } = await import('pg');
    const pool = new Pool({
      ...connection.config,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
      application_name: `sidekick-${init.appId}`,
    });
    pool.on('error', (err) => {
      this.logger.warn({ err, address: this.address }, `idle postgres connection failed: ${errorMessage(err)}`);
    });
    try {
      await this.createTable(pool);
      await this.checkColumns(pool, table);
    } catch (err) {
      await pool.end().catch((endErr: unknown) => {
        this.logger.debug({ err: endErr }, `closing the pool after a failed init failed: ${errorMessage(endErr)}`);
      });
      const unreachable = isUnreachable(err);
      const what = unreachable ? 'is unreachable' : 'failed to initialise';
      throw new BackendError(this.name, `postgres at ${this.address} ${what}: ${errorMessage(err)}`, err);
    }
    this.pool = pool;
    if (cleanupInterval > 0) this.scheduleCleanup(cleanupInterval);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.cleanupTimer) this.clock.clearTimeout(this.cleanupTimer);
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.end();
  }

  async ping(): Promise<void> {
    await this.run((db) => db.query('SELECT 1'));
  }

  async get(key: string): Promise<GetResponse | undefined> {
    const result = await this.run((db) => db.query<Row>(this.sql.get([key])));
    const row = result.rows[0];
    return row ? toResponse(row) : undefined;
  }

  async bulkGet(keys: readonly string[]): Promise<(GetResponse | undefined)[]> {
    if (keys.length === 0) return [];
    const result = await this.run((db) => db.query<Row>(this.sql.bulkGet([[...keys]])));
    const found = new Map<string, GetResponse>();
    for (const row of result.rows) found.set(row.key, toResponse(row));
    return keys.map((key) => found.get(key));
  }

  async set(request: SetRequest): Promise<void> {
    this.validate(request);
    await this.run((db) => this.write(db, request));
  }

  async delete(request: DeleteRequest): Promise<void> {
    this.validate(request);
    await this.run((db) => this.remove(db, request));
  }

  async transact(operations: readonly TransactionOperation[]): Promise<void> {
    if (operations.length === 0) return;
    for (const op of operations) this.validate(op.request);
    const pool = this.requirePool();
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw this.mapError(err);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      for (const op of operations) {
        if (op.operation === 'upsert') await this.write(client, op.request);
        else await this.remove(client, op.request);
      }
      await client.query('COMMIT');
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        this.logger.warn({ err: rollbackErr }, `postgres ROLLBACK failed, dropping the connection: ${errorMessage(rollbackErr)}`);
      }
      throw this.mapError(err);
    } finally {
      client.release(broken);
    }
  }

  /** Dapr's state query over JSONB (libs/postgres/postgres.query.ts). */
  async query(request: StateQueryRequest): Promise<StateQueryResponse> {
    const pool = this.requirePool();
    this.queryReady ??= ensureQueryFunction(pool).catch((err: unknown) => {
      this.queryReady = undefined;
      throw err;
    });
    const rows = await this.run(async (db) => {
      await this.queryReady;
      return (await db.query<{ key: string; value: Buffer; etag: string }>(postgresQuery(this.table, request))).rows;
    });
    const page = pageOf(rows, request.query);
    return { results: page.rows.map((r) => ({ key: r.key, data: r.value, etag: r.etag })), token: page.token };
  }

  /** One write under the ETag rules; throws ETagMismatchError when no row was written. */
  private async write(db: Queryable, request: SetRequest): Promise<void> {
    const ttl = hasTtl(request) ? request.ttlInSeconds : null;
    const etag = request.etag;
    let query: QueryConfig;
    // A string must reach bytea as bytes: pg would otherwise send it as text in bytea escape format.
    const value = typeof request.value === 'string' ? Buffer.from(request.value, 'utf8') : request.value;
    if (etag !== undefined && etag !== '') query = this.sql.update([request.key, value, ttl, etag]);
    else if (request.options?.concurrency === 'first-write') query = this.sql.insert([request.key, value, ttl]);
    else query = this.sql.upsert([request.key, value, ttl]);
    const result = await db.query(query);
    if (result.rowCount === 0) throw new ETagMismatchError(this.name, request.key);
  }

  private async remove(db: Queryable, request: DeleteRequest): Promise<void> {
    if (request.etag === undefined || request.etag === '') {
      await db.query(this.sql.delete([request.key]));
      return;
    }
    const result = await db.query(this.sql.deleteWithETag([request.key, request.etag]));
    if (result.rowCount === 0) throw new ETagMismatchError(this.name, request.key);
  }

  /** An etag that is not a uuid can match no row: a mismatch, as daprd's v2 store answers (uuid.Parse fails). */
  private validate(request: SetRequest | DeleteRequest): void {
    if (request.etag !== undefined && request.etag !== '' && !UUID.test(request.etag)) {
      throw new ETagMismatchError(this.name, request.key);
    }
  }

  private async createTable(pool: Pool): Promise<void> {
    try {
      await pool.query(this.sql.createTable);
    } catch (err) {
      // Two processes creating the table at once: one wins, the other sees a duplicate type/table.
      if (!createdConcurrently(err)) throw err;
      this.logger.debug({ err }, 'state table created concurrently by another process');
    }
  }

  /** Refuses a table that exists with another layout (e.g. daprd's v1 table: jsonb value, no etag column). */
  private async checkColumns(pool: Pool, table: string): Promise<void> {
    const [schema, name] = table.includes('.') ? table.toLowerCase().split('.') : [null, table.toLowerCase()];
    const result = await pool.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2`,
      [schema, name],
    );
    const types = new Map(result.rows.map((row) => [row.column_name, row.data_type]));
    const expected: Record<string, string> = { key: 'text', value: 'bytea', etag: 'uuid', expires_at: 'timestamp with time zone' };
    const wrong = Object.entries(expected).filter(([column, type]) => types.get(column) !== type);
    if (wrong.length > 0) {
      throw new Error(
        `table ${table} exists with another layout (expected ${wrong.map(([c, t]) => `${c} ${t}`).join(', ')}; ` +
          "daprd's v1 PostgreSQL table is not supported, use a new tableName)",
      );
    }
  }

  private scheduleCleanup(intervalMs: number): void {
    this.cleanupTimer = this.clock.setTimeout(() => {
      this.cleanupTimer = undefined;
      const pool = this.pool;
      if (this.closed || !pool) return;
      pool
        .query(this.sql.cleanup)
        .then((result) => {
          if (result.rowCount) this.logger.debug({ deleted: result.rowCount }, 'deleted expired state rows');
        })
        .catch((err: unknown) => {
          this.logger.warn({ err }, `deleting expired state rows failed (retried next interval): ${errorMessage(err)}`);
        })
        .finally(() => {
          if (!this.closed) this.scheduleCleanup(intervalMs);
        });
    }, intervalMs);
  }

  private requirePool(): Pool {
    if (!this.pool) throw new BackendError(this.name, `postgres state store ${this.name} is not initialised or is closed`);
    return this.pool;
  }

  private async run<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    const pool = this.requirePool();
    try {
      return await fn(pool);
    } catch (err) {
      throw this.mapError(err);
    }
  }

  private mapError(err: unknown): SidekickError {
    if (err instanceof SidekickError) return err;
    return new BackendError(this.name, `postgres at ${this.address}: ${errorMessage(err)}`, err);
  }
}

/** Every statement, for one (validated, quoted) table. Values are always bound parameters. */
function statements(table: string) {
  const live = '(expires_at IS NULL OR expires_at > now())';
  // $3 is the TTL in seconds or NULL; NULL * interval is NULL, i.e. no expiry.
  const expiry = `now() + $3::float8 * interval '1 second'`;
  const insert = `INSERT INTO ${table} AS t (key, value, etag, expires_at) VALUES ($1, $2, gen_random_uuid(), ${expiry})`;
  const named =
    (name: string, text: string) =>
    (values: unknown[]): QueryConfig => ({ name: `sidekick_${name}`, text, values });
  return {
    createTable: `CREATE TABLE IF NOT EXISTS ${table} (
      key text NOT NULL PRIMARY KEY,
      value bytea NOT NULL,
      etag uuid NOT NULL,
      expires_at timestamptz
    )`,
    get: named('get', `SELECT key, value, etag, expires_at FROM ${table} WHERE key = $1 AND ${live}`),
    bulkGet: named('bulk_get', `SELECT key, value, etag, expires_at FROM ${table} WHERE key = ANY($1::text[]) AND ${live}`),
    update: named(
      'update',
      `UPDATE ${table} SET value = $2, etag = gen_random_uuid(), expires_at = ${expiry}
       WHERE key = $1 AND etag = $4::uuid AND ${live}`,
    ),
    // first-write: only a missing or expired row may be (over)written.
    insert: named(
      'insert',
      `${insert} ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, etag = EXCLUDED.etag, expires_at = EXCLUDED.expires_at
       WHERE t.expires_at IS NOT NULL AND t.expires_at <= now()`,
    ),
    upsert: named('upsert', `${insert} ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, etag = EXCLUDED.etag, expires_at = EXCLUDED.expires_at`),
    delete: named('delete', `DELETE FROM ${table} WHERE key = $1`),
    deleteWithETag: named('delete_etag', `DELETE FROM ${table} WHERE key = $1 AND etag = $2::uuid AND ${live}`),
    cleanup: `DELETE FROM ${table} WHERE expires_at IS NOT NULL AND expires_at <= now()`,
  };
}

function toResponse(row: Row): GetResponse {
  return row.expires_at ? { data: row.value, etag: row.etag, expiresAt: row.expires_at.getTime() } : { data: row.value, etag: row.etag };
}

export const postgresStateStoreFactory: ComponentFactory<PostgresStateStore> = {
  type: 'state.postgresql',
  kind: 'state',
  versions: ['v1', 'v2'],
  create: () => new PostgresStateStore(),
};
