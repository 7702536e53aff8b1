import type { Pool } from 'pg';
import { BackendError, errorMessage } from '../../src/errors/sidekick.error';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';
import { type LockStore, type TryLockRequest, type TryLockResponse, type UnlockRequest, type UnlockResponse, UnlockStatus } from '../../src/spi/lock.store';
import { createdConcurrently, isUnreachable, parseConnectionString } from './postgres.connection';

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;
const DEFAULT_TIMEOUT_MS = 20_000;

/**
 * `lock.postgresql` (daprd has no PostgreSQL lock; this one is Sidekick's): a leases table,
 * `resource_id text PRIMARY KEY, owner text, expires_at timestamptz, fence bigint`, created if missing.
 *
 * - A grant is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE` the row is free (no owner, or its
 *   lease expired by the server's `now()`): PostgreSQL locks the conflicting row and re-checks the
 *   condition, so exactly one of concurrent callers wins. The row's `fence` goes up by one on each
 *   grant and is the grant's fencing token; rows are never deleted, so tokens never go back.
 * - An unlock clears the owner when the caller holds a live lease; otherwise a second query tells
 *   "does not exist" (1) from "belongs to others" (2).
 *
 * Why leases rather than advisory locks: an advisory lock belongs to a database session, so it would
 * pin one pooled connection per held lock, could not expire (Dapr's `expiryInSeconds`), would be
 * released by any connection drop, and has nowhere to keep a fencing counter.
 */
export class PostgresLockStore implements LockStore {
  private pool?: Pool;
  private name = 'postgresql-lock';
  private address = '';
  private logger!: SidekickLogger;
  private sql!: ReturnType<typeof statements>;

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.logger = init.logger;
    const meta = init.meta;
    const connectionString = meta.required('connectionString', 'e.g. postgres://user:password@localhost:5432/db or "host=localhost user=postgres"');
    const table = meta.text('tableName', 'sidekick_locks');
    if (!TABLE_NAME.test(table)) throw meta.error('tableName', `"${table}" is not a valid table name (letters, digits, _; optionally schema.table)`);
    const timeout = meta.duration('timeout', DEFAULT_TIMEOUT_MS, { min: 1 });
    const connection = parseConnectionString(connectionString, { file: init.source, component: init.name, field: 'spec.metadata.connectionString' });
    this.address = connection.address;
    this.sql = statements(
      table
        .split('.')
        .map((part) => `"${part.toLowerCase()}"`)
        .join('.'),
    );
    const { Pool } = await import('pg');
    const pool = new Pool({ ...connection.config, connectionTimeoutMillis: timeout, query_timeout: timeout, application_name: `sidekick-${init.appId}` });
    pool.on('error', (err) => this.logger.warn({ err, address: this.address }, `idle postgres connection failed: ${errorMessage(err)}`));
    try {
      await pool.query(this.sql.createTable);
    } catch (err) {
      // Two processes creating the table at once: one wins, the other sees a duplicate type/table.
      if (!createdConcurrently(err)) {
        await pool.end().catch((endErr: unknown) => this.logger.debug({ err: endErr }, `closing the pool failed: ${errorMessage(endErr)}`));
        throw new BackendError(
          this.name,
          `postgres at ${this.address} ${isUnreachable(err) ? 'is unreachable' : 'failed to initialise'}: ${errorMessage(err)}`,
          err,
        );
      }
    }
    this.pool = pool;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.end();
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1', []);
  }

  async tryLock(request: TryLockRequest): Promise<TryLockResponse> {
    const rows = await this.query<{ fence: string }>(this.sql.tryLock, [request.resourceId, request.lockOwner, request.expiryInSeconds]);
    const row = rows[0];
    return row ? { success: true, fencingToken: String(row.fence) } : { success: false };
  }

  async unlock(request: UnlockRequest): Promise<UnlockResponse> {
    const released = await this.query(this.sql.unlock, [request.resourceId, request.lockOwner]);
    if (released.length > 0) return { status: UnlockStatus.Success };
    const held = await this.query(this.sql.held, [request.resourceId]);
    return { status: held.length > 0 ? UnlockStatus.LockBelongsToOthers : UnlockStatus.LockDoesNotExist };
  }

  private async query<R extends object>(text: string, values: unknown[]): Promise<R[]> {
    if (!this.pool) throw new BackendError(this.name, `postgres lock store ${this.name} is not initialised or is closed`);
    try {
      return (await this.pool.query<R>(text, values)).rows;
    } catch (err) {
      throw new BackendError(this.name, `postgres at ${this.address}: ${errorMessage(err)}`, err);
    }
  }
}

function statements(table: string) {
  const live = 'owner IS NOT NULL AND expires_at > now()';
  return {
    createTable: `CREATE TABLE IF NOT EXISTS ${table} (
      resource_id text NOT NULL PRIMARY KEY,
      owner text,
      expires_at timestamptz,
      fence bigint NOT NULL
    )`,
    tryLock: `INSERT INTO ${table} AS t (resource_id, owner, expires_at, fence)
      VALUES ($1, $2, now() + $3::float8 * interval '1 second', 1)
      ON CONFLICT (resource_id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, fence = t.fence + 1
      WHERE t.owner IS NULL OR t.expires_at <= now()
      RETURNING fence`,
    unlock: `UPDATE ${table} SET owner = NULL, expires_at = NULL WHERE resource_id = $1 AND owner = $2 AND expires_at > now() RETURNING 1`,
    held: `SELECT 1 FROM ${table} WHERE resource_id = $1 AND ${live}`,
  };
}

export const postgresLockFactory: ComponentFactory<PostgresLockStore> = {
  type: 'lock.postgresql',
  kind: 'lock',
  versions: ['v1'],
  create: () => new PostgresLockStore(),
};
