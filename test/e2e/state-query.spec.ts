import { daprHttpClient } from '../support/dapr-client';
import type { InlineComponent } from '../../src/config/component.loader';
import { SidekickClient } from '../../src/runtime/sidekick.client';
import type { StateStore } from '../../src/spi';
import { join } from 'node:path';
import { inspect, startApp, tempDir, type TestApp } from '../support/app';
import { redisHostPort, requireRedis } from '../support/services';

/** `POST /v1.0-alpha1/state/{store}/query` (Dapr's alpha query API), the official client's state.query, and fenced writes over HTTP. */

const comp = (name: string, type: string, metadata: Record<string, string> = {}): InlineComponent => ({
  metadata: { name },
  spec: { type, version: 'v1', metadata: Object.entries(metadata).map(([n, value]) => ({ name: n, value })) },
});

async function call(t: TestApp, path: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${t.apiUrl}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

describe('state query over HTTP', () => {
  let t: TestApp;

  beforeAll(async () => {
    await requireRedis();
    t = await startApp({
      appId: 'queryapp',
      components: [
        comp('statestore', 'state.in-memory'),
        comp('redisstore', 'state.redis', { redisHost: redisHostPort() }),
        comp('sqlitestore', 'state.sqlite', { connectionString: join(tempDir('sidekick-query-'), 'state.db') }),
      ],
    });
    const people = [
      { key: 'p1', value: { name: 'alice', age: 30, person: { org: 'Dev Ops' } } },
      { key: 'p2', value: { name: 'bob', age: 25, person: { org: 'Finance' } } },
      { key: 'p3', value: { name: 'carol', age: 35, person: { org: 'Dev Ops' } } },
    ];
    expect((await call(t, '/v1.0/state/statestore', people)).status).toBe(204);
  });

  afterAll(() => t?.close());

  it("answers Dapr's shape: keys without the appid|| prefix, data as JSON, etags; a token while more pages follow", async () => {
    const query = { filter: { EQ: { 'person.org': 'Dev Ops' } }, sort: [{ key: 'age', order: 'DESC' }], page: { limit: 1 } };
    const first = await call(t, '/v1.0-alpha1/state/statestore/query', query);
    expect(first.status).toBe(200);
    const body = JSON.parse(first.text) as { results: { key: string; data: unknown; etag: string }[]; token: string };
    expect(body).toEqual({ results: [{ key: 'p3', data: { name: 'carol', age: 35, person: { org: 'Dev Ops' } }, etag: expect.any(String) }], token: '1' });
    const stored = await inspect(t).component<StateStore>('statestore')?.get('queryapp||p3');
    expect(body.results[0]?.etag).toBe(stored?.etag);
    const second = await call(t, '/v1.0-alpha1/state/statestore/query', { ...query, page: { limit: 1, token: body.token } });
    expect(JSON.parse(second.text)).toEqual({
      results: [{ key: 'p1', data: { name: 'alice', age: 30, person: { org: 'Dev Ops' } }, etag: expect.any(String) }],
    });
  });

  it('/v1.0/metadata lists QUERY_API for the stores that query (as daprd), not for Redis', async () => {
    const meta = (await (await fetch(`${t.apiUrl}/v1.0/metadata`)).json()) as { components: { name: string; capabilities: string[] }[] };
    const caps = (name: string): string[] => meta.components.find((c) => c.name === name)?.capabilities ?? [];
    expect(caps('statestore')).toContain('QUERY_API');
    expect(caps('sqlitestore')).toContain('QUERY_API');
    expect(caps('redisstore')).not.toContain('QUERY_API');
  });

  it('no results: 204, as daprd', async () => {
    const res = await call(t, '/v1.0-alpha1/state/statestore/query', { filter: { EQ: { name: 'nobody' } } });
    expect(res).toEqual({ status: 204, text: '' });
  });

  it.each([
    ['a body that is not JSON', '{"filter":', 'failed to parse JSON query body'],
    ['an unsupported operator', { filter: { GT: { age: 1 } } }, 'invalid state query: filter.GT: unsupported filter "GT" (use EQ, IN, AND or OR)'],
    ['AND with one filter', { filter: { AND: [{ EQ: { a: 1 } }] } }, 'filter.AND: AND must contain at least two filters'],
    ['a bad order', { sort: [{ key: 'age', order: 'down' }] }, 'sort[0].order: order must be "ASC" or "DESC"'],
  ])('%s: 400 ERR_STATE_QUERY with a clear message', async (_what, body, message) => {
    const res = await call(t, '/v1.0-alpha1/state/statestore/query', body);
    expect(res.status).toBe(400);
    const err = JSON.parse(res.text) as { errorCode: string; message: string };
    expect(err.errorCode).toBe('ERR_STATE_QUERY');
    expect(err.message).toContain(message);
  });

  it('a store that cannot query (Redis): 500 ERR_STATE_STORE_NOT_SUPPORTED with reason DAPR_STATE_QUERYING_NOT_SUPPORTED; unknown store: 400', async () => {
    const res = await call(t, '/v1.0-alpha1/state/redisstore/query', { filter: { EQ: { a: 1 } } });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.text)).toMatchObject({
      errorCode: 'ERR_STATE_STORE_NOT_SUPPORTED',
      message: "state store redisstore doesn't support query",
      details: [expect.objectContaining({ reason: 'DAPR_STATE_QUERYING_NOT_SUPPORTED' })],
    });
    const missing = await call(t, '/v1.0-alpha1/state/nope/query', {});
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text)).toMatchObject({ errorCode: 'ERR_STATE_STORE_NOT_FOUND' });
  });

  it('the official @dapr/dapr client: state.query, and an empty result as { results: [] }', async () => {
    const client = daprHttpClient(t.apiUrl);
    const found = await client.state.query('statestore', {
      filter: { IN: { name: ['bob', 'alice'] } },
      sort: [{ key: 'name', order: 'ASC' }],
      page: { limit: 10 },
    });
    expect(found.results.map((r) => [r.key, (r.data as { name: string }).name])).toEqual([
      ['p1', 'alice'],
      ['p2', 'bob'],
    ]);
    expect(await client.state.query('statestore', { filter: { EQ: { name: 'nobody' } }, sort: [], page: { limit: 10 } })).toEqual({ results: [] });
    await client.stop();
  });

  it('SidekickClient: state(store).query decodes the values', async () => {
    const sidekick = t.app.get(SidekickClient);
    const found = await sidekick.state<{ name: string }>('statestore').query({ filter: { EQ: { age: 25 } } });
    expect(found).toEqual({ results: [{ key: 'p2', value: { name: 'bob', age: 25, person: { org: 'Finance' } }, etag: expect.any(String) }] });
  });

  describe('fenced writes (metadata.fencingToken)', () => {
    const save = (items: unknown) => call(t, '/v1.0/state/statestore', items);

    it('a newer or equal token writes; an older one is 409 ERR_STATE_FENCING_TOKEN_STALE and the bytes stay', async () => {
      expect((await save([{ key: 'f1', value: 'v5', metadata: { fencingToken: '5' } }])).status).toBe(204);
      expect((await save([{ key: 'f1', value: 'v5b', metadata: { fencingToken: '5' } }])).status).toBe(204);
      const stale = await save([{ key: 'f1', value: 'v4', metadata: { fencingToken: '4' } }]);
      expect(stale.status).toBe(409);
      expect(JSON.parse(stale.text)).toEqual({
        errorCode: 'ERR_STATE_FENCING_TOKEN_STALE',
        message:
          'state store statestore rejected the write: fencing token 4 for resource "f1" is older than token 5 already written (the lock expired and was granted to another owner)',
      });
      expect((await inspect(t).component<StateStore>('statestore')?.get('queryapp||f1'))?.data.toString()).toBe('"v5b"');
      // The fence record is internal: not a query result.
      const all = JSON.parse((await call(t, '/v1.0-alpha1/state/statestore/query', {})).text) as { results: { key: string }[] };
      expect(all.results.map((r) => r.key)).toContain('f1');
      expect(all.results.filter((r) => r.key.includes('fence'))).toEqual([]);
    });

    it('a transaction with the token in its metadata is fenced as a whole', async () => {
      const tx = (token: string) =>
        call(t, '/v1.0/state/statestore/transaction', {
          operations: [{ operation: 'upsert', request: { key: 'f2', value: token } }],
          metadata: { fencingToken: token, fencingResource: 'job' },
        });
      expect((await tx('10')).status).toBe(204);
      const stale = await tx('9');
      expect(stale.status).toBe(409);
      expect(JSON.parse(stale.text)).toMatchObject({ errorCode: 'ERR_STATE_FENCING_TOKEN_STALE' });
    });

    it('the same on state.sqlite (the query there too leaves the fence record out)', async () => {
      const at = '/v1.0/state/sqlitestore';
      expect(await call(t, at, [{ key: 's1', value: { n: 2 }, metadata: { fencingToken: '2' } }])).toEqual({ status: 204, text: '' });
      expect((await call(t, at, [{ key: 's1', value: { n: 1 }, metadata: { fencingToken: '1' } }])).status).toBe(409);
      const all = JSON.parse((await call(t, '/v1.0-alpha1/state/sqlitestore/query', {})).text) as unknown;
      expect(all).toEqual({ results: [{ key: 's1', data: { n: 2 }, etag: expect.any(String) }] });
    });

    it('a token that is not a decimal integer, or two tokens for one resource, is 400', async () => {
      const bad = await save([{ key: 'f3', value: 1, metadata: { fencingToken: 'abc' } }]);
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.text)).toMatchObject({ errorCode: 'ERR_MALFORMED_REQUEST' });
      const two = await save([
        { key: 'a', value: 1, metadata: { fencingToken: '1', fencingResource: 'r' } },
        { key: 'b', value: 1, metadata: { fencingToken: '2', fencingResource: 'r' } },
      ]);
      expect(two.status).toBe(400);
      expect(JSON.parse(two.text).message).toContain('fencing tokens 1 and 2 for resource "r"');
    });
  });
});
