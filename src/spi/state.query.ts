import { z } from 'zod';
import { SidekickError } from '../errors/sidekick.error';
import { formatIssues } from '../errors/zod-issues';

/*
 * Dapr's state query language (alpha; components-contrib state/query): a `filter` of EQ / IN / AND /
 * OR, a `sort` list and a `page` {limit, token}. Parsed and validated here once, into a small tree
 * every querying store translates (memory evaluates it with the functions below, SQLite and
 * PostgreSQL turn it into SQL over JSON1 / JSONB with the same semantics):
 *
 * - A field is a dot path into the stored JSON value (`person.org`); it walks objects only.
 * - EQ matches a value of the same JSON type and equal value (the string "1" is not the number 1);
 *   `null` matches an explicit null, never a missing field. IN is EQ against any of a list.
 * - Sort: numbers (numerically) before strings (by code point) before false before true before
 *   objects and arrays (which tie); items missing the field (or null) always come last; ties by key.
 *   DESC reverses all but the "missing last" rule and the key tie-break.
 * - Page: `limit` 0 or absent means all; the token is the offset of the next page (decimal), given
 *   only when more results follow.
 */

export type JsonScalar = string | number | boolean | null;

export type QueryFilter =
  | { readonly op: 'EQ'; readonly field: string; readonly path: readonly string[]; readonly value: JsonScalar }
  | { readonly op: 'IN'; readonly field: string; readonly path: readonly string[]; readonly values: readonly JsonScalar[] }
  | { readonly op: 'AND' | 'OR'; readonly filters: readonly QueryFilter[] };

export interface QuerySort {
  readonly field: string;
  readonly path: readonly string[];
  readonly order: 'ASC' | 'DESC';
}

export interface StateQuery {
  readonly filter?: QueryFilter;
  readonly sort: readonly QuerySort[];
  /** 0 = no limit. */
  readonly limit: number;
  readonly offset: number;
}

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()], { error: 'must be a string, number, boolean or null' });

function fieldPath(field: string): string[] | string {
  if (field === '') return 'a field name must not be empty';
  if (field.includes('"')) return `field "${field}" must not contain a double quote`;
  const path = field.split('.');
  if (path.some((p) => p === '')) return `field "${field}" has an empty segment (use a.b.c)`;
  return path;
}

/** One filter unit, `{ "EQ": {...} }` etc.; issues are added to `ctx` with their path. */
function toFilter(value: unknown, at: (string | number)[], ctx: z.RefinementCtx): QueryFilter | undefined {
  const fail = (message: string, path = at): undefined => {
    ctx.addIssue({ code: 'custom', message, path });
    return undefined;
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('a filter must be an object with one of EQ, IN, AND, OR');
  const entries = Object.entries(value);
  if (entries.length !== 1)
    return fail(
      `a filter must have exactly one of EQ, IN, AND, OR (got ${entries.length === 0 ? 'none' : entries.map(([k]) => k).join(', ')}); leave "filter" out to match everything`,
    );
  const [op, body] = entries[0] as [string, unknown];
  const here = [...at, op];
  if (op === 'AND' || op === 'OR') {
    if (!Array.isArray(body)) return fail(`${op} must be an array of filters`, here);
    if (body.length < 2) return fail(`${op} must contain at least two filters`, here);
    const filters = body.map((f, i) => toFilter(f, [...here, i], ctx));
    return filters.every((f) => f !== undefined) ? { op, filters: filters as QueryFilter[] } : undefined;
  }
  if (op !== 'EQ' && op !== 'IN') return fail(`unsupported filter "${op}" (use EQ, IN, AND or OR)`, here);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(`${op} must be an object {"field": value}`, here);
  const pairs = Object.entries(body);
  if (pairs.length !== 1) return fail(`${op} must contain a single field/value pair, got ${pairs.length}`, here);
  const [field, raw] = pairs[0] as [string, unknown];
  const path = fieldPath(field);
  if (typeof path === 'string') return fail(path, here);
  if (op === 'EQ') {
    const parsed = scalar.safeParse(raw);
    return parsed.success
      ? { op, field, path, value: parsed.data }
      : fail(`EQ value of "${field}" must be a string, number, boolean or null`, [...here, field]);
  }
  const values = z.array(scalar).safeParse(raw);
  return values.success
    ? { op, field, path, values: values.data }
    : fail(`IN value of "${field}" must be an array of strings, numbers, booleans or nulls`, [...here, field]);
}

const querySchema = z
  .object({
    filter: z.unknown().optional(),
    sort: z
      .array(
        z
          .object({
            key: z.string({ error: 'sort key must be a string' }),
            order: z.enum(['ASC', 'DESC'], { error: 'order must be "ASC" or "DESC"' }).optional(),
          })
          .strict(),
        { error: 'sort must be an array of {key, order}' },
      )
      .optional(),
    page: z
      .object({
        limit: z.number({ error: 'page.limit must be a number' }).int('page.limit must be a whole number').min(0, 'page.limit must be >= 0').optional(),
        token: z.string({ error: 'page.token must be a string' }).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .transform((q, ctx): StateQuery => {
    const filter = q.filter === undefined ? undefined : toFilter(q.filter, ['filter'], ctx);
    const sort: QuerySort[] = [];
    for (const [i, s] of (q.sort ?? []).entries()) {
      const path = fieldPath(s.key);
      if (typeof path === 'string') ctx.addIssue({ code: 'custom', message: path, path: ['sort', i, 'key'] });
      else sort.push({ field: s.key, path, order: s.order ?? 'ASC' });
    }
    const token = q.page?.token;
    let offset = 0;
    if (token !== undefined && token !== '') {
      if (!/^\d{1,15}$/.test(token))
        ctx.addIssue({ code: 'custom', message: `page.token "${token.slice(0, 40)}" is not a token this store returned`, path: ['page', 'token'] });
      else offset = Number(token);
    }
    return { filter, sort, limit: q.page?.limit ?? 0, offset };
  });

/** Parses a query body (already JSON-decoded); a bad query throws `ERR_STATE_QUERY` with HTTP 400 naming the field. */
export function parseStateQuery(body: unknown): StateQuery {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SidekickError('ERR_STATE_QUERY', 'invalid state query: (document): the query must be a JSON object {filter, sort, page}', {
      httpStatus: 400,
      field: 'query',
    });
  }
  const parsed = querySchema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw new SidekickError('ERR_STATE_QUERY', `invalid state query: ${formatIssues(parsed.error.issues)}`, { httpStatus: 400, field: 'query' });
}

/** The value at `path` in a parsed JSON value (objects only), or undefined. */
export function valueAt(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/** Whether a parsed JSON value matches the filter (the reference semantics). */
export function matchesFilter(value: unknown, filter: QueryFilter | undefined): boolean {
  if (!filter) return true;
  switch (filter.op) {
    case 'EQ':
      return valueAt(value, filter.path) === filter.value;
    case 'IN': {
      const found = valueAt(value, filter.path);
      return filter.values.some((v) => v === found);
    }
    case 'AND':
      return filter.filters.every((f) => matchesFilter(value, f));
    case 'OR':
      return filter.filters.some((f) => matchesFilter(value, f));
  }
}

/** Sort rank of a JSON value: numbers 0, strings 1, false 2, true 3, objects/arrays 4; missing or null: undefined (last). */
function rank(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return 1;
  if (v === false) return 2;
  if (v === true) return 3;
  return 4;
}

/** Orders two items (parsed values with their full keys) by `sort`, then by key: the reference order. */
export function compareForSort(a: { key: string; value: unknown }, b: { key: string; value: unknown }, sort: readonly QuerySort[]): number {
  for (const s of sort) {
    const x = valueAt(a.value, s.path);
    const y = valueAt(b.value, s.path);
    const rx = rank(x);
    const ry = rank(y);
    if (rx === undefined || ry === undefined) {
      if (rx !== ry) return rx === undefined ? 1 : -1;
      continue;
    }
    let c = rx - ry;
    if (c === 0 && (rx === 0 || rx === 1)) c = (x as number | string) < (y as number | string) ? -1 : (x as number | string) > (y as number | string) ? 1 : 0;
    if (c !== 0) return s.order === 'DESC' ? -c : c;
  }
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** Whether a stored full key is an app key under `prefix` (internal records such as `prefix||sidekick-fence||x` have a second `||`). */
export function isQueryableKey(key: string, prefix: string): boolean {
  return key.startsWith(prefix) && !key.slice(prefix.length).includes('||');
}

/** A query as a store receives it. */
export interface StateQueryRequest {
  readonly query: StateQuery;
  /** Only keys starting with this prefix (`appid||`), with no further `||`, are searched. */
  readonly keyPrefix: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface StateQueryItem {
  /** The full stored key. */
  readonly key: string;
  readonly data: Buffer;
  readonly etag: string;
}

export interface StateQueryResponse {
  readonly results: readonly StateQueryItem[];
  /** The next page's token, when more results follow. */
  readonly token?: string;
}

/** Cuts `limit + 1` sorted rows (as fetched) into a page and its next token. */
export function pageOf<T>(rows: readonly T[], query: StateQuery): { rows: T[]; token?: string } {
  if (query.limit === 0 || rows.length <= query.limit) return { rows: [...rows] };
  return { rows: rows.slice(0, query.limit), token: String(query.offset + query.limit) };
}
