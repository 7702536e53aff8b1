import type { Pool } from 'pg';
import type { JsonScalar, QueryFilter, QuerySort, StateQueryRequest } from '../../src/spi/state.query';

/*
 * Dapr's state query over JSONB, with the semantics of src/spi/state.query.ts. Values are bytea:
 * the function `sidekick_try_jsonb(bytea)` (created on the first query) reads them as JSONB and
 * gives NULL for bytes that are not UTF-8 JSON, which are left out. Field paths go to `#>` as text[]
 * parameters, values as JSONB parameters (so JSONB equality: same type and value). Strings sort
 * with COLLATE "C" (code point order, as the other stores).
 */

export const TRY_JSONB_FUNCTION = `DO $do$ BEGIN
  CREATE FUNCTION sidekick_try_jsonb(b bytea) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $f$
  BEGIN
    RETURN convert_from(b, 'UTF8')::jsonb;
  EXCEPTION WHEN others THEN
    RETURN NULL;
  END $f$;
EXCEPTION WHEN duplicate_function OR unique_violation THEN NULL;
END $do$`;

/** Creates the helper function once per pool (concurrent creators: one wins, the others see it exists). */
export async function ensureQueryFunction(pool: Pool): Promise<void> {
  await pool.query(TRY_JSONB_FUNCTION);
}

class Builder {
  readonly params: unknown[] = [];

  bind(value: unknown, cast = ''): string {
    this.params.push(value);
    return `$${this.params.length}${cast}`;
  }

  at(path: readonly string[]): string {
    return `(j #> ${this.bind([...path], '::text[]')})`;
  }

  filter(f: QueryFilter): string {
    switch (f.op) {
      case 'EQ':
        return `${this.at(f.path)} = ${this.bind(json(f.value), '::jsonb')}`;
      case 'IN':
        return `${this.at(f.path)} = ANY(${this.bind(f.values.map(json), '::jsonb[]')})`;
      case 'AND':
      case 'OR':
        return `(${f.filters.map((x) => this.filter(x)).join(` ${f.op} `)})`;
    }
  }

  order(s: QuerySort): string {
    const dir = s.order === 'DESC' ? 'DESC' : 'ASC';
    const x = this.at(s.path);
    const missing = `(${x} IS NULL OR jsonb_typeof(${x}) = 'null') ASC`;
    const rank = `CASE jsonb_typeof(${x}) WHEN 'number' THEN 0 WHEN 'string' THEN 1 WHEN 'boolean' THEN (CASE WHEN ${x} = 'true'::jsonb THEN 3 ELSE 2 END) ELSE 4 END ${dir}`;
    const num = `CASE WHEN jsonb_typeof(${x}) = 'number' THEN (${x} #>> '{}')::numeric END ${dir}`;
    const text = `(CASE WHEN jsonb_typeof(${x}) = 'string' THEN ${x} #>> '{}' END) COLLATE "C" ${dir}`;
    return `${missing}, ${rank}, ${num}, ${text}`;
  }
}

function json(value: JsonScalar): string {
  return JSON.stringify(value);
}

/** The SELECT of one page (`limit + 1` rows, to tell whether more follow) and its parameters. */
export function postgresQuery(table: string, request: StateQueryRequest): { text: string; values: unknown[] } {
  const { query, keyPrefix } = request;
  const b = new Builder();
  const n = b.bind([...keyPrefix].length, '::int');
  const inner =
    `SELECT key, value, etag, sidekick_try_jsonb(value) AS j FROM ${table} ` +
    `WHERE left(key, ${n}) = ${b.bind(keyPrefix, '::text')} AND strpos(substr(key, ${n} + 1), '||') = 0 ` +
    `AND (expires_at IS NULL OR expires_at > now())`;
  const where = query.filter ? ` AND ${b.filter(query.filter)}` : '';
  const order = [...query.sort.map((s) => b.order(s)), 'key COLLATE "C" ASC'].join(', ');
  const limit = query.limit === 0 ? '' : ` LIMIT ${b.bind(query.limit + 1, '::int')}`;
  const text = `SELECT key, value, etag FROM (${inner}) AS rows WHERE j IS NOT NULL${where} ORDER BY ${order}${limit} OFFSET ${b.bind(query.offset, '::int')}`;
  return { text, values: b.params };
}
