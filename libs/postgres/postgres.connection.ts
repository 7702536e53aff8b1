import type { PoolConfig } from 'pg';
import { ConfigError } from '../../src/errors/config.errors';
import { errorMessage } from '../../src/errors/sidekick.error';

/** Error codes (network and Postgres) that mean the server cannot be reached. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', '57P01', '08006', '08001']);

/** True when a pg error means the server is unreachable (as opposed to a bad query). */
export function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? UNREACHABLE.has(code) : /timeout|terminated|Connection terminated/i.test(errorMessage(err));
}

/**
 * Codes of a `CREATE TABLE IF NOT EXISTS` that lost a race with another process creating the same
 * table (PostgreSQL checks "if not exists" before its catalog insert, so both may try): a duplicate
 * key in the catalog (23505), the table (42P07) or its row type (42710) already existing. The winner
 * has committed by then (the catalog's unique index waits for it), so the table can be used.
 */
const CREATED_CONCURRENTLY = new Set(['23505', '42P07', '42710']);

/** True when a create failed only because another process created the same table at the same moment. */
export function createdConcurrently(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && CREATED_CONCURRENTLY.has(code);
}

/**
 * A URL (`postgres://user:pw@host:5432/db?sslmode=require`, passed to pg as is) or the key=value
 * form Dapr's docs use (`host=localhost user=postgres password=x port=5432 database=db`).
 */
export function parseConnectionString(text: string, context: { file?: string; component?: string; field: string }): { config: PoolConfig; address: string } {
  if (/^postgres(ql)?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch (err) {
      throw new ConfigError(`not a valid URL: ${errorMessage(err)}`, context);
    }
    const host = url.hostname || url.searchParams.get('host') || 'localhost';
    return { config: { connectionString: text }, address: `${host}:${url.port || '5432'}` };
  }
  const values = new Map<string, string>();
  const pair = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))\s*/y;
  let consumed = 0;
  for (let match = pair.exec(text); match && match[0] !== ''; match = pair.exec(text)) {
    values.set(match[1]?.toLowerCase() ?? '', match[2]?.replace(/\\(.)/g, '$1') ?? match[3] ?? '');
    consumed = pair.lastIndex;
  }
  if (values.size === 0 || consumed !== text.length) {
    throw new ConfigError('neither a postgres:// URL nor key=value pairs (e.g. "host=localhost port=5432 user=postgres")', context);
  }
  const host = values.get('host') ?? 'localhost';
  const port = values.get('port') ?? '5432';
  if (!/^\d{1,5}$/.test(port)) throw new ConfigError(`port "${port}" is not a number`, context);
  const sslmode = values.get('sslmode');
  const config: PoolConfig = {
    host,
    port: Number(port),
    user: values.get('user'),
    password: values.get('password'),
    database: values.get('database') ?? values.get('dbname'),
  };
  if (sslmode && sslmode !== 'disable' && sslmode !== 'allow' && sslmode !== 'prefer') {
    config.ssl = sslmode === 'verify-full' || sslmode === 'verify-ca' ? true : { rejectUnauthorized: false };
  }
  return { config, address: `${host}:${port}` };
}
