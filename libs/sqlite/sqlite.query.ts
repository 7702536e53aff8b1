import type { QueryFilter, QuerySort, StateQueryRequest } from '../../src/spi/state.query';

/*
 * Dapr's state query over SQLite's JSON functions, with the semantics of src/spi/state.query.ts.
 * Values are BLOBs: they are read as TEXT (`CAST(value AS TEXT)`, since SQLite reads a BLOB given to
 * its JSON functions as its binary JSONB format) and rows whose text is not valid JSON are left out.
 * Every value is a bound parameter; JSON paths are built from validated field names (no `"`).
 */

type Param = string | number | bigint | null;

/** `$."a"."b"`: each segment quoted, so dots, spaces and `$` in names are literal. */
function jsonPath(path: readonly string[]): string {
  return `$${path.map((p) => `."${p}"`).join('')}`;
}

class Builder {
  readonly params: Param[] = [];

  bind(value: Param): string {
    this.params.push(value);
    return '?';
  }

  type(path: readonly string[]): string {
    return `json_type(j, ${this.bind(jsonPath(path))})`;
  }

  equals(path: readonly string[], value: string | number | boolean | null): string {
    if (value === null) return `${this.type(path)} = 'null'`;
    if (typeof value === 'boolean') return `${this.type(path)} = '${value ? 'true' : 'false'}'`;
    const types = typeof value === 'number' ? `IN ('integer', 'real')` : `= 'text'`;
    return `(${this.type(path)} ${types} AND json_extract(j, ${this.bind(jsonPath(path))}) = ${this.bind(value)})`;
  }

  filter(f: QueryFilter): string {
    switch (f.op) {
      case 'EQ':
        return this.equals(f.path, f.value);
      case 'IN':
        return f.values.length === 0 ? '0' : `(${f.values.map((v) => this.equals(f.path, v)).join(' OR ')})`;
      case 'AND':
      case 'OR':
        return `(${f.filters.map((x) => this.filter(x)).join(` ${f.op} `)})`;
    }
  }

  order(s: QuerySort): string {
    const dir = s.order === 'DESC' ? 'DESC' : 'ASC';
    const t = this.type(s.path);
    const missing = `(${this.type(s.path)} IS NULL OR ${this.type(s.path)} = 'null') ASC`;
    const rank = `CASE ${t} WHEN 'integer' THEN 0 WHEN 'real' THEN 0 WHEN 'text' THEN 1 WHEN 'false' THEN 2 WHEN 'true' THEN 3 ELSE 4 END ${dir}`;
    const value = `CASE WHEN ${this.type(s.path)} IN ('integer', 'real', 'text') THEN json_extract(j, ${this.bind(jsonPath(s.path))}) END ${dir}`;
    return `${missing}, ${rank}, ${value}`;
  }
}

/** The SELECT of one page (`limit + 1` rows, to tell whether more follow) and its parameters. */
export function sqliteQuery(table: string, request: StateQueryRequest, now: number): { sql: string; params: Param[] } {
  const { query, keyPrefix } = request;
  const b = new Builder();
  const n = [...keyPrefix].length;
  const inner =
    `SELECT key, value, etag, CAST(value AS TEXT) AS j FROM "${table}" ` +
    `WHERE substr(key, 1, ${b.bind(n)}) = ${b.bind(keyPrefix)} AND instr(substr(key, ${b.bind(n + 1)}), '||') = 0 ` +
    `AND (expires_at IS NULL OR expires_at > ${b.bind(now)})`;
  const where = query.filter ? ` AND ${b.filter(query.filter)}` : '';
  const order = [...query.sort.map((s) => b.order(s)), 'key ASC'].join(', ');
  const limit = query.limit === 0 ? -1 : query.limit + 1;
  const sql = `SELECT key, value, etag FROM (${inner}) WHERE json_valid(j)${where} ORDER BY ${order} LIMIT ${b.bind(limit)} OFFSET ${b.bind(query.offset)}`;
  return { sql, params: b.params };
}
