import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BackendError } from '../../src/errors/sidekick.error';
import { ETagInvalidError } from '../../src/errors/state.errors';
import type { Clock, TimerHandle } from '../../src/spi/clock';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import { pageOf, type StateQueryRequest, type StateQueryResponse } from '../../src/spi/state.query';
import { checkETag, hasTtl } from '../../src/spi/state.rules';
import { sqliteQuery } from './sqlite.query';
import type { DeleteRequest, GetResponse, SetRequest, StateFeature, StateStore, TransactionOperation } from '../../src/spi/state.store';

interface Row {
  readonly value: Buffer;
  readonly etag: string;
  readonly expires_at: number | null;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const DEFAULT_CLEANUP_MS = 3_600_000;

/**
 * `state.sqlite` on better-sqlite3: the embedded default. Dapr's metadata names: `connectionString`
 * (a file path, `file:` URI or `:memory:`), `tableName` (default `state`), `busyTimeout` (a duration,
 * default 5s), `cleanupInterval` (a duration, default 1h; `0` or less disables the sweep of expired
 * rows). Durations as Dapr reads them: `2s`, `1h`, or a bare number of seconds. Expiry is read through the clock.
 */
export class SqliteStateStore implements StateStore {
  readonly features: readonly StateFeature[] = ['ETAG', 'TRANSACTIONAL', 'TTL', 'ACTOR', 'QUERY_API'];
  private table = 'state';
  private db?: Database.Database;
  private name = 'sqlite';
  private clock!: Clock;
  private sweep?: TimerHandle;
  private stmt!: {
    get: Database.Statement<[string, number], Row>;
    upsert: Database.Statement<[string, Buffer, string, number | null]>;
    remove: Database.Statement<[string]>;
    purge: Database.Statement<[number]>;
  };
  private version = 0;

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.clock = init.clock;
    const meta = init.meta;
    const file = parseConnectionString(meta.text('connectionString', '.sidekick/state.db'));
    const table = meta.text('tableName', 'state');
    if (!IDENTIFIER.test(table)) throw meta.error('tableName', `tableName "${table}" is not a valid SQL identifier (letters, digits, _)`);
    this.table = table;
    const busyTimeout = Math.round(meta.duration('busyTimeout', DEFAULT_BUSY_TIMEOUT_MS, { min: 0 }));
    const cleanupInterval = meta.duration('cleanupInterval', DEFAULT_CLEANUP_MS);
    try {
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
      this.db = new Database(file, { timeout: busyTimeout });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(
        `CREATE TABLE IF NOT EXISTS "${table}" (key TEXT NOT NULL PRIMARY KEY, value BLOB NOT NULL, ` +
          `etag TEXT NOT NULL, expires_at INTEGER, updated_at INTEGER NOT NULL)`,
      );
    } catch (err) {
      throw new BackendError(init.name, `sqlite database ${file} cannot be opened: ${(err as Error).message}`, err);
    }
    const db = this.db;
    this.stmt = {
      get: db.prepare(`SELECT value, etag, expires_at FROM "${table}" WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)`),
      upsert: db.prepare(
        `INSERT INTO "${table}" (key, value, etag, expires_at, updated_at) VALUES (?, ?, ?, ?, unixepoch()) ` +
          `ON CONFLICT(key) DO UPDATE SET value = excluded.value, etag = excluded.etag, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
      ),
      remove: db.prepare(`DELETE FROM "${table}" WHERE key = ?`),
      purge: db.prepare(`DELETE FROM "${table}" WHERE expires_at IS NOT NULL AND expires_at <= ?`),
    };
    const row = db.prepare<[], { v: number | null }>(`SELECT MAX(CAST(etag AS INTEGER)) AS v FROM "${table}"`).get();
    this.version = row?.v ?? 0;
    if (cleanupInterval > 0) this.scheduleSweep(cleanupInterval);
  }

  async close(): Promise<void> {
    if (this.sweep) this.clock.clearTimeout(this.sweep);
    this.sweep = undefined;
    if (this.db?.open) this.db.close();
  }

  async get(key: string): Promise<GetResponse | undefined> {
    return this.read(key);
  }

  async bulkGet(keys: readonly string[]): Promise<(GetResponse | undefined)[]> {
    return keys.map((key) => this.read(key));
  }

  async set(request: SetRequest): Promise<void> {
    this.transaction([{ operation: 'upsert', request }]);
  }

  async delete(request: DeleteRequest): Promise<void> {
    this.transaction([{ operation: 'delete', request }]);
  }

  async transact(operations: readonly TransactionOperation[]): Promise<void> {
    this.transaction(operations);
  }

  /** Dapr's state query over JSON1 (libs/sqlite/sqlite.query.ts). */
  async query(request: StateQueryRequest): Promise<StateQueryResponse> {
    const { sql, params } = sqliteQuery(this.table, request, this.clock.now());
    const rows = this.open()
      .prepare<unknown[], { key: string; value: Buffer; etag: string }>(sql)
      .all(...params);
    const page = pageOf(rows, request.query);
    return { results: page.rows.map((r) => ({ key: r.key, data: r.value, etag: r.etag })), token: page.token };
  }

  /** Checks and applies inside one SQLite transaction: a thrown ETag error rolls everything back. */
  private transaction(operations: readonly TransactionOperation[]): void {
    const db = this.open();
    const now = this.clock.now();
    const run = db.transaction(() => {
      for (const op of operations) {
        const { request } = op;
        if (request.etag !== undefined && request.etag !== '' && !/^\d+$/.test(request.etag)) {
          throw new ETagInvalidError(this.name, request.etag);
        }
        checkETag(this.name, this.stmt.get.get(request.key, now)?.etag, request);
        if (op.operation === 'delete') {
          this.stmt.remove.run(request.key);
        } else {
          const expiresAt = hasTtl(op.request) ? now + op.request.ttlInSeconds * 1000 : null;
          this.stmt.upsert.run(request.key, toBytes(op.request.value), String(++this.version), expiresAt);
        }
      }
    });
    run.immediate();
  }

  private read(key: string): GetResponse | undefined {
    const row = this.open() && this.stmt.get.get(key, this.clock.now());
    if (!row) return undefined;
    return row.expires_at === null ? { data: row.value, etag: row.etag } : { data: row.value, etag: row.etag, expiresAt: row.expires_at };
  }

  private open(): Database.Database {
    if (!this.db?.open) throw new BackendError(this.name, `sqlite state store ${this.name} is closed`);
    return this.db;
  }

  private scheduleSweep(ms: number): void {
    this.sweep = this.clock.setTimeout(() => {
      if (!this.db?.open) return;
      this.stmt.purge.run(this.clock.now());
      this.scheduleSweep(ms);
    }, ms);
  }
}

/** Strings are stored as their UTF-8 bytes (a BLOB), never as SQLite TEXT. */
function toBytes(value: Buffer | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

function parseConnectionString(value: string): string {
  if (value === ':memory:' || value === 'file::memory:') return ':memory:';
  const path = value.startsWith('file:') ? (value.slice('file:'.length).split('?')[0] ?? '') : value;
  return path;
}

export const sqliteStateStoreFactory: ComponentFactory<SqliteStateStore> = {
  type: 'state.sqlite',
  kind: 'state',
  versions: ['v1'],
  create: () => new SqliteStateStore(),
};
