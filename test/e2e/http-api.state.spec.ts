import type { StateStore } from '../../src/spi';
import { inspect, startApp, type TestApp } from '../support/app';

describe('Dapr HTTP API: state', () => {
  let t: TestApp;
  const api = (path: string, init?: RequestInit): Promise<Response> => fetch(`${t.apiUrl}${path}`, init);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    api(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

  beforeAll(async () => {
    t = await startApp({ appId: 'stateapp', httpApi: { maxBodyBytes: 64 * 1024 } });
  });
  afterAll(() => t.close());

  it('saves with 204 and gets the JSON-encoded value back with an ETag header', async () => {
    const save = await post('/v1.0/state/statestore', [
      { key: 'order', value: { orderId: 7 } },
      { key: 'greeting', value: 'hi' },
    ]);
    expect(save.status).toBe(204);
    expect(await save.text()).toBe('');
    const get = await api('/v1.0/state/statestore/order');
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('application/json');
    expect(get.headers.get('etag')).toMatch(/^\d+$/);
    expect(await get.json()).toEqual({ orderId: 7 });
    // Strings are stored JSON-encoded, with their quotes, as daprd does.
    expect(await (await api('/v1.0/state/statestore/greeting')).text()).toBe('"hi"');
  });

  it('stores keys under the app id prefix (appid||key)', async () => {
    await post('/v1.0/state/statestore', [{ key: 'prefixed', value: 1 }]);
    const store = inspect(t).component<StateStore>('statestore');
    expect((await store?.get('stateapp||prefixed'))?.data.toString()).toBe('1');
    expect(await store?.get('prefixed')).toBeUndefined();
  });

  it('answers 204 with no body for a missing key', async () => {
    const res = await api('/v1.0/state/statestore/nope');
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('refuses a stale ETag with 409 ERR_STATE_SAVE and accepts the current one', async () => {
    await post('/v1.0/state/statestore', [{ key: 'cas', value: 1 }]);
    const etag = (await api('/v1.0/state/statestore/cas')).headers.get('etag') ?? '';
    const ok = await post('/v1.0/state/statestore', [{ key: 'cas', value: 2, etag }]);
    expect(ok.status).toBe(204);
    const stale = await post('/v1.0/state/statestore', [{ key: 'cas', value: 3, etag }]);
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({ errorCode: 'ERR_STATE_SAVE' });
    expect(await (await api('/v1.0/state/statestore/cas')).json()).toBe(2);
  });

  it('gives 400 for a malformed ETag and for first-write on an existing key gives 409', async () => {
    await post('/v1.0/state/statestore', [{ key: 'fw', value: 1 }]);
    const bad = await post('/v1.0/state/statestore', [{ key: 'fw', value: 2, etag: 'not-a-number' }]);
    expect(bad.status).toBe(400);
    expect((await bad.json()).errorCode).toBe('ERR_STATE_SAVE');
    const fw = await post('/v1.0/state/statestore', [{ key: 'fw', value: 2, options: { concurrency: 'first-write' } }]);
    expect(fw.status).toBe(409);
  });

  it('deletes with If-Match: 409 ERR_STATE_DELETE on mismatch, 204 on match', async () => {
    await post('/v1.0/state/statestore', [{ key: 'del', value: 'x' }]);
    const etag = (await api('/v1.0/state/statestore/del')).headers.get('etag') ?? '';
    const wrong = await api('/v1.0/state/statestore/del', { method: 'DELETE', headers: { 'If-Match': String(Number(etag) + 100) } });
    expect(wrong.status).toBe(409);
    expect((await wrong.json()).errorCode).toBe('ERR_STATE_DELETE');
    const right = await api('/v1.0/state/statestore/del', { method: 'DELETE', headers: { 'If-Match': etag } });
    expect(right.status).toBe(204);
    expect((await api('/v1.0/state/statestore/del')).status).toBe(204);
  });

  it('bulk get keeps order, embeds data as raw JSON and omits data for missing keys', async () => {
    await post('/v1.0/state/statestore', [
      { key: 'b1', value: { n: 1 } },
      { key: 'b2', value: [2] },
    ]);
    const res = await post('/v1.0/state/statestore/bulk', { keys: ['b2', 'missing', 'b1'], parallelism: 2 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { key: string; data?: unknown; etag?: string }[];
    expect(body.map((b) => b.key)).toEqual(['b2', 'missing', 'b1']);
    expect(body[0]?.data).toEqual([2]);
    expect(body[1]).toEqual({ key: 'missing' });
    expect(body[2]?.data).toEqual({ n: 1 });
    expect(body[2]?.etag).toBeTruthy();
  });

  it('applies a transaction atomically; a stale ETag gives 500 ERR_STATE_TRANSACTION and changes nothing', async () => {
    await post('/v1.0/state/statestore', [
      { key: 't1', value: 'old' },
      { key: 't2', value: 'keep' },
    ]);
    const ok = await post('/v1.0/state/statestore/transaction', {
      operations: [
        { operation: 'upsert', request: { key: 't1', value: 'new' } },
        { operation: 'delete', request: { key: 't2' } },
      ],
    });
    expect([ok.status, await ok.text()]).toEqual([204, '']);
    expect(await (await api('/v1.0/state/statestore/t1')).json()).toBe('new');
    expect((await api('/v1.0/state/statestore/t2')).status).toBe(204);

    const failed = await post('/v1.0/state/statestore/transaction', {
      operations: [
        { operation: 'upsert', request: { key: 't3', value: 'never' } },
        { operation: 'upsert', request: { key: 't1', value: 'never', etag: '999999' } },
      ],
    });
    expect(failed.status).toBe(500);
    expect((await failed.json()).errorCode).toBe('ERR_STATE_TRANSACTION');
    expect((await api('/v1.0/state/statestore/t3')).status).toBe(204);
    expect(await (await api('/v1.0/state/statestore/t1')).json()).toBe('new');
  });

  it('rejects an unknown transaction operation with 400 ERR_NOT_SUPPORTED_STATE_OPERATION', async () => {
    const res = await post('/v1.0/state/statestore/transaction', { operations: [{ operation: 'merge', request: { key: 'k' } }] });
    expect(res.status).toBe(400);
    expect((await res.json()).errorCode).toBe('ERR_NOT_SUPPORTED_STATE_OPERATION');
  });

  it('answers malformed bodies with 400 ERR_MALFORMED_REQUEST naming the problem', async () => {
    const notJson = await post('/v1.0/state/statestore', '{nope');
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).errorCode).toBe('ERR_MALFORMED_REQUEST');
    const notArray = await post('/v1.0/state/statestore', { key: 'k', value: 1 });
    expect(notArray.status).toBe(400);
    const noKey = await post('/v1.0/state/statestore', [{ value: 1 }]);
    expect(noKey.status).toBe(400);
    expect((await noKey.json()).message).toContain('key');
    const pipes = await post('/v1.0/state/statestore', [{ key: 'a||b', value: 1 }]);
    expect(pipes.status).toBe(400);
    expect((await pipes.json()).errorCode).toBe('ERR_MALFORMED_REQUEST');
  });

  it('answers an unknown store with 400 ERR_STATE_STORE_NOT_FOUND', async () => {
    const res = await api('/v1.0/state/nostore/k');
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.errorCode).toBe('ERR_STATE_STORE_NOT_FOUND');
    expect(body.message).toContain('nostore');
    // daprd's rich error: an ErrorInfo with its reason and the app id.
    expect(body.details).toEqual([
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', domain: 'dapr.io', metadata: { appID: 'stateapp' }, reason: 'DAPR_STATE_NOT_FOUND' },
    ]);
    const illegal = await (await post('/v1.0/state/statestore', [{ key: 'a||b', value: 1 }])).json();
    expect(illegal).toMatchObject({ errorCode: 'ERR_MALFORMED_REQUEST', details: [expect.objectContaining({ reason: 'DAPR_STATE_ILLEGAL_KEY' })] });
    const legacy = await (await post('/v1.0/state/statestore', 'not json')).json();
    expect(legacy.details).toBeUndefined();
  });

  it('answers a body over maxBodyBytes with 413', async () => {
    const res = await post('/v1.0/state/statestore', [{ key: 'big', value: 'x'.repeat(70 * 1024) }]);
    expect(res.status).toBe(413);
    expect((await res.json()).errorCode).toBe('ERR_BODY_TOO_LARGE');
    expect((await api('/v1.0/state/statestore/big')).status).toBe(204);
  });

  it('honours ttlInSeconds metadata and reports metadata.ttlExpireTime', async () => {
    await post('/v1.0/state/statestore', [{ key: 'ttl', value: 1, metadata: { ttlInSeconds: '60' } }]);
    const res = await api('/v1.0/state/statestore/ttl');
    const expiry = Date.parse(res.headers.get('metadata.ttlexpiretime') ?? '');
    expect(expiry - Date.now()).toBeGreaterThan(50_000);
    expect(expiry - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it('serves healthz, outbound health and metadata', async () => {
    expect((await api('/v1.0/healthz')).status).toBe(204);
    expect((await api('/v1.0/healthz/outbound')).status).toBe(204);
    const mismatch = await api('/v1.0/healthz?appid=other');
    expect(mismatch.status).toBe(500);
    expect((await mismatch.json()).errorCode).toBe('ERR_HEALTH_APPID_NOT_MATCH');
    const meta = await (await api('/v1.0/metadata')).json();
    expect(meta.id).toBe('stateapp');
    expect(meta.components).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'statestore', type: 'state.in-memory', capabilities: expect.arrayContaining(['ETAG', 'TRANSACTIONAL', 'TTL']) }),
      ]),
    );
    expect(meta.extended.daprRuntimeVersion).toBeTruthy();
  });

  it('answers an unrouted path with no dapr-app-id header with 404 ERR_DIRECT_INVOKE', async () => {
    const res = await api('/v1.0/nothing-here');
    expect(res.status).toBe(404);
    expect((await res.json()).errorCode).toBe('ERR_DIRECT_INVOKE');
  });
});

describe('Dapr HTTP API: API token', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ appId: 'tokenapp', httpApi: { apiToken: 's3cret' } });
  });
  afterAll(() => t.close());

  it('answers 401 "invalid api token" without the header or with a wrong one', async () => {
    for (const headers of [{}, { 'dapr-api-token': 'wrong' }] as Record<string, string>[]) {
      const res = await fetch(`${t.apiUrl}/v1.0/state/statestore/k`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(await res.text()).toBe('invalid api token');
    }
  });

  it('serves requests with the right token, and health checks without one', async () => {
    const res = await fetch(`${t.apiUrl}/v1.0/state/statestore/k`, { headers: { 'dapr-api-token': 's3cret' } });
    expect(res.status).toBe(204);
    expect((await fetch(`${t.apiUrl}/v1.0/healthz`)).status).toBe(204);
    expect((await fetch(`${t.apiUrl}/v1.0/metadata`)).status).toBe(401);
  });
});
