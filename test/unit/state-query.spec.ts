import { SidekickError } from '../../src/errors/sidekick.error';
import { compareForSort, isQueryableKey, matchesFilter, pageOf, parseStateQuery } from '../../src/spi/state.query';

function errorOf(body: unknown): SidekickError {
  try {
    parseStateQuery(body);
  } catch (err) {
    return err as SidekickError;
  }
  throw new Error('expected the query to be refused');
}

describe("state query: parsing Dapr's query language", () => {
  it('parses filter, sort and page into a tree', () => {
    const q = parseStateQuery({
      filter: { AND: [{ EQ: { 'person.org': 'Dev Ops' } }, { OR: [{ IN: { state: ['CA', 'WA'] } }, { EQ: { active: true } }] }] },
      sort: [{ key: 'person.id', order: 'DESC' }, { key: 'state' }],
      page: { limit: 3, token: '6' },
    });
    expect(q).toEqual({
      filter: {
        op: 'AND',
        filters: [
          { op: 'EQ', field: 'person.org', path: ['person', 'org'], value: 'Dev Ops' },
          {
            op: 'OR',
            filters: [
              { op: 'IN', field: 'state', path: ['state'], values: ['CA', 'WA'] },
              { op: 'EQ', field: 'active', path: ['active'], value: true },
            ],
          },
        ],
      },
      sort: [
        { field: 'person.id', path: ['person', 'id'], order: 'DESC' },
        { field: 'state', path: ['state'], order: 'ASC' },
      ],
      limit: 3,
      offset: 6,
    });
  });

  it('an empty object is a query for everything, unlimited', () => {
    expect(parseStateQuery({})).toEqual({ filter: undefined, sort: [], limit: 0, offset: 0 });
  });

  it.each([
    ['not an object', [1], '(document): the query must be a JSON object {filter, sort, page}'],
    ['an unknown top-level field', { fliter: {} }, 'Unrecognized key: "fliter"'],
    ['an empty filter', { filter: {} }, 'filter: a filter must have exactly one of EQ, IN, AND, OR (got none); leave "filter" out to match everything'],
    ['two operators in one unit', { filter: { EQ: { a: 1 }, IN: { b: [1] } } }, 'got EQ, IN'],
    ['an unknown operator', { filter: { GT: { a: 1 } } }, 'filter.GT: unsupported filter "GT" (use EQ, IN, AND or OR)'],
    ['AND with one entry', { filter: { AND: [{ EQ: { a: 1 } }] } }, 'filter.AND: AND must contain at least two filters'],
    ['OR that is not an array', { filter: { OR: { EQ: { a: 1 } } } }, 'filter.OR: OR must be an array of filters'],
    ['EQ with two fields', { filter: { EQ: { a: 1, b: 2 } } }, 'filter.EQ: EQ must contain a single field/value pair, got 2'],
    ['EQ with an object value', { filter: { EQ: { a: { b: 1 } } } }, 'filter.EQ.a: EQ value of "a" must be a string, number, boolean or null'],
    ['IN without an array', { filter: { IN: { a: 'x' } } }, 'filter.IN.a: IN value of "a" must be an array'],
    ['an empty path segment', { filter: { EQ: { 'a..b': 1 } } }, 'field "a..b" has an empty segment'],
    ['a nested error, with its path', { filter: { AND: [{ EQ: { a: 1 } }, { NOPE: 1 }] } }, 'filter.AND[1].NOPE: unsupported filter "NOPE"'],
    ['a bad sort order', { sort: [{ key: 'a', order: 'desc' }] }, 'sort[0].order: order must be "ASC" or "DESC"'],
    ['a negative limit', { page: { limit: -1 } }, 'page.limit: page.limit must be >= 0'],
    ['a token not from a store', { page: { limit: 1, token: 'abc' } }, 'page.token: page.token "abc" is not a token this store returned'],
  ])('%s: 400 ERR_STATE_QUERY naming the field', (_what, body, message) => {
    const err = errorOf(body);
    expect(err).toBeInstanceOf(SidekickError);
    expect(err.code).toBe('ERR_STATE_QUERY');
    expect(err.httpStatus).toBe(400);
    expect(err.message).toContain(message);
  });
});

describe('state query: the reference semantics', () => {
  const q = (filter: unknown) => parseStateQuery({ filter }).filter;

  it('EQ compares type and value; null matches an explicit null only; paths walk objects', () => {
    const v = { n: 1, s: '1', b: false, z: null, p: { org: 'Dev Ops' }, list: [1] };
    expect(matchesFilter(v, q({ EQ: { n: 1 } }))).toBe(true);
    expect(matchesFilter(v, q({ EQ: { n: '1' } }))).toBe(false);
    expect(matchesFilter(v, q({ EQ: { s: '1' } }))).toBe(true);
    expect(matchesFilter(v, q({ EQ: { b: false } }))).toBe(true);
    expect(matchesFilter(v, q({ EQ: { z: null } }))).toBe(true);
    expect(matchesFilter(v, q({ EQ: { missing: null } }))).toBe(false);
    expect(matchesFilter(v, q({ EQ: { 'p.org': 'Dev Ops' } }))).toBe(true);
    expect(matchesFilter(v, q({ EQ: { 'list.0': 1 } }))).toBe(false);
    expect(matchesFilter(v, q({ IN: { n: [3, 2, 1] } }))).toBe(true);
    expect(matchesFilter(v, q({ OR: [{ EQ: { n: 2 } }, { EQ: { s: '1' } }] }))).toBe(true);
    expect(matchesFilter(v, q({ AND: [{ EQ: { n: 2 } }, { EQ: { s: '1' } }] }))).toBe(false);
  });

  it('sorts numbers, then strings, then false, true, objects; missing and null last; ties by key', () => {
    const items = [
      { key: 'k1', value: { a: 'b' } },
      { key: 'k2', value: {} },
      { key: 'k3', value: { a: 10 } },
      { key: 'k4', value: { a: 9 } },
      { key: 'k5', value: { a: true } },
      { key: 'k6', value: { a: false } },
      { key: 'k7', value: { a: null } },
      { key: 'k8', value: { a: 'B' } },
      { key: 'k9', value: { a: { x: 1 } } },
    ];
    const asc = parseStateQuery({ sort: [{ key: 'a' }] }).sort;
    expect([...items].sort((x, y) => compareForSort(x, y, asc)).map((i) => i.key)).toEqual(['k4', 'k3', 'k8', 'k1', 'k6', 'k5', 'k9', 'k2', 'k7']);
    const desc = parseStateQuery({ sort: [{ key: 'a', order: 'DESC' }] }).sort;
    expect([...items].sort((x, y) => compareForSort(x, y, desc)).map((i) => i.key)).toEqual(['k9', 'k5', 'k6', 'k1', 'k8', 'k3', 'k4', 'k2', 'k7']);
  });

  it('pages: a token only when more rows follow', () => {
    const query = parseStateQuery({ page: { limit: 2, token: '4' } });
    expect(pageOf([1, 2, 3], query)).toEqual({ rows: [1, 2], token: '6' });
    expect(pageOf([1, 2], query)).toEqual({ rows: [1, 2] });
  });

  it('only app keys under the prefix are queryable (not internal records with a second ||)', () => {
    expect(isQueryableKey('app||order', 'app||')).toBe(true);
    expect(isQueryableKey('other||order', 'app||')).toBe(false);
    expect(isQueryableKey('app||sidekick-fence||order', 'app||')).toBe(false);
  });
});
