import type { Pool, QueryResult, types as PgTypes } from 'pg';
import { BackendError, SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import type { BindingRequest, BindingResponse, OutputBinding } from '../../src/spi/binding';
import type { Clock } from '../../src/spi/clock';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';
import { isUnreachable, parseConnectionString } from './postgres.connection';

const DEFAULT_TIMEOUT_MS = 20_000;
const INT8_OID = 20;

type TypeParsers = { getTypeParser: typeof PgTypes.getTypeParser };

/** int8 (`count(*)`, bigint columns) as a JSON number when it fits, as pgx does; the digits otherwise. */
function int8AsNumber(types: typeof PgTypes): TypeParsers {
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
      if (oid === INT8_OID && format !== 'binary') {
        return (text: string) => (Number.isSafeInteger(Number(text)) ? Number(text) : text);
      }
      return types.getTypeParser(oid, format);
    }) as typeof types.getTypeParser,
  };
}

/**
 * `bindings.postgresql` (output), as daprd's: `exec` and `query` run the SQL in request metadata
 * `sql` with the JSON array in `params` bound as $1..$n (always bound parameters, never spliced);
 * `close` ends the pool. Response metadata: `operation`, `sql`, `start-time`, `end-time`, `duration`
 * and, for `exec`, `rows-affected`.
 *
 * Difference from daprd: `query` returns a JSON array of row objects (column name → value) where
 * daprd returns an array of arrays (the column values in order). Values are JSON as pg decodes them:
 * timestamps as ISO strings, bytea as base64 (like Go's []byte), int8 as a number when it fits.
 */
export class PostgresBinding implements OutputBinding {
  readonly operations: readonly string[] = ['exec', 'query', 'close'];
  private name = 'postgresql';
  private address = '';
  private pool?: Pool;
  private closed = false;
  private clock!: Clock;
  private logger!: SidekickLogger;

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.clock = init.clock;
    this.logger = init.logger;
    const meta = init.meta;
    const field = meta.has('connectionString') || !meta.has('url') ? 'connectionString' : 'url';
    const connectionString = meta.required(field, 'or url; e.g. postgres://user:password@localhost:5432/db or "host=localhost user=postgres"');
    const timeout = meta.duration('timeout', DEFAULT_TIMEOUT_MS, { min: 1 });
    const maxConns = meta.int('maxConns', undefined, { min: 1 });
    const connection = parseConnectionString(connectionString, { file: init.source, component: init.name, field: `spec.metadata.${field}` });
    this.address = connection.address;
    // Loaded on first use: an app without a PostgreSQL component never pays for pg (about 75 ms and 7 MB).
    const pg = await import('pg');
    const pool = new pg.Pool({
      ...connection.config,
      types: int8AsNumber(pg.types),
      connectionTimeoutMillis: timeout,
      application_name: `sidekick-${init.appId}`,
      ...(maxConns !== undefined ? { max: maxConns } : {}),
    });
    pool.on('error', (err) => {
      this.logger.warn({ err, address: this.address }, `idle postgres connection failed: ${errorMessage(err)}`);
    });
    try {
      await pool.query({ text: 'SELECT 1', query_timeout: timeout } as { text: string });
    } catch (err) {
      await pool.end().catch((endErr: unknown) => {
        this.logger.debug({ err: endErr }, `closing the pool after a failed init failed: ${errorMessage(endErr)}`);
      });
      const what = isUnreachable(err) ? 'is unreachable' : 'failed to initialise';
      throw new BackendError(this.name, `postgres at ${this.address} ${what}: ${errorMessage(err)}`, err);
    }
    this.pool = pool;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.end();
  }

  async ping(): Promise<void> {
    await this.run('SELECT 1', []);
  }

  async invoke(req: BindingRequest): Promise<BindingResponse> {
    if (req.operation === 'close') {
      await this.close(); // succeeds when already closed, as daprd's
      return {};
    }
    if (req.operation !== 'exec' && req.operation !== 'query') {
      throw this.error(`invalid operation type: ${req.operation}. Expected exec, query, or close`);
    }
    const sql = req.metadata['sql'];
    if (!sql) throw this.error('required metadata not set: sql');
    const params = parseParams(req.metadata['params'], (message) => this.error(message));
    const start = this.clock.now();
    const result = await this.run(sql, params);
    const end = this.clock.now();
    const metadata: Record<string, string> = {
      operation: req.operation,
      sql,
      'start-time': new Date(start).toISOString(),
      'end-time': new Date(end).toISOString(),
      duration: goDuration(end - start),
    };
    if (req.operation === 'exec') {
      metadata['rows-affected'] = String(result.rowCount ?? 0);
      return { metadata };
    }
    return { data: Buffer.from(JSON.stringify(result.rows.map(toJsonRow))), metadata };
  }

  private async run(sql: string, params: unknown[]): Promise<QueryResult<Record<string, unknown>>> {
    const pool = this.pool;
    if (!pool) throw this.error(this.closed ? 'component is closed' : 'component is not initialised');
    try {
      // With values, pg always uses the extended protocol: parameters travel apart from the SQL text.
      const result = (await pool.query({ text: sql, values: params })) as QueryResult<Record<string, unknown>> | QueryResult<Record<string, unknown>>[];
      // Several statements without parameters (simple protocol) give one result each: keep the last.
      return Array.isArray(result) ? (result[result.length - 1] ?? emptyResult()) : result;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const state = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? ` (SQLSTATE ${code})` : '';
      if (isUnreachable(err)) throw new BackendError(this.name, `postgres at ${this.address}: ${errorMessage(err)}`, err);
      throw this.error(`error executing query: ${errorMessage(err)}${state}`, err);
    }
  }

  private error(message: string, cause?: unknown): SidekickError {
    return new SidekickError('ERR_INVOKE_OUTPUT_BINDING', `postgresql binding ${this.name}: ${message}`, { component: this.name, cause });
  }
}

function parseParams(text: string | undefined, error: (message: string) => SidekickError): unknown[] {
  if (text === undefined || text.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw error(`invalid metadata property params: ${errorMessage(err)} (expected a JSON array such as [1, "two"])`);
  }
  if (!Array.isArray(parsed)) throw error('invalid metadata property params: not a JSON array (expected e.g. [1, "two"])');
  return parsed;
}

function toJsonRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[key] = Buffer.isBuffer(value) ? value.toString('base64') : value;
  return out;
}

function emptyResult(): QueryResult<Record<string, unknown>> {
  return { command: '', rowCount: 0, oid: 0, fields: [], rows: [] };
}

/** Go's `time.Duration.String()` for whole milliseconds: `0s`, `12ms`, `1.5s`, `2m3.004s`, `1h0m0s`. */
export function goDuration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = ((ms % 60_000) / 1000).toFixed(3).replace(/\.?0+$/, '');
  if (h > 0) return `${h}h${m}m${s}s`;
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}

export const postgresBindingFactory: ComponentFactory<PostgresBinding> = {
  type: 'bindings.postgresql',
  kind: 'bindings',
  versions: ['v1'],
  create: () => new PostgresBinding(),
};
