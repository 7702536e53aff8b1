import type { AddressInfo } from 'node:net';
import { ApiError, SidekickError } from '../../src/errors/sidekick.error';
import { HttpApiServer } from '../../src/runtime/http-api/http-api.server';
import type { ApiRoute } from '../../src/runtime/http-api/api-context';
import { silentLogger } from '../../src/testing';

/** The HTTP API server alone: routing, the token, body limits and error mapping, with routes of the test's own. */
describe('HttpApiServer', () => {
  let server: HttpApiServer;
  let url: string;
  const seen: string[] = [];
  const routes: ApiRoute[] = [
    {
      name: 'echo',
      methods: ['POST'],
      path: '/v1.0/echo/:name',
      errorCode: 'ERR_ECHO',
      handler: async (ctx) => {
        const body = await ctx.body();
        ctx.res.writeHead(200, { 'content-type': 'text/plain' });
        ctx.res.end(`${ctx.params['name'] ?? ''}:${body.length}:${ctx.query.get('q') ?? ''}`);
      },
    },
    {
      name: 'health',
      methods: ['GET'],
      path: '/v1.0/healthz',
      errorCode: 'ERR_HEALTH',
      public: true,
      handler: async (ctx) => void ctx.res.writeHead(204).end(),
    },
    {
      name: 'fails',
      methods: ['GET'],
      path: '/v1.0/fails/:how',
      errorCode: 'ERR_OPERATION',
      errorStatus: { ERR_ETAG_MISMATCH: 500 },
      handler: async (ctx) => {
        const how = ctx.params['how'];
        if (how === 'api') throw new ApiError(418, 'ERR_TEAPOT', 'short and stout');
        if (how === 'table') throw new SidekickError('ERR_PUBSUB_NOT_FOUND', 'no such pub/sub');
        if (how === 'operation') throw new SidekickError('ERR_ETAG_INVALID', 'bad etag');
        if (how === 'override') throw new SidekickError('ERR_ETAG_MISMATCH', 'stale');
        throw new Error('plain failure');
      },
    },
    {
      name: 'fallback',
      methods: [],
      path: '',
      errorCode: 'ERR_DIRECT_INVOKE',
      handler: async (ctx) => {
        seen.push(ctx.path);
        ctx.res.writeHead(200).end('fallback');
      },
    },
  ];

  beforeAll(async () => {
    server = new HttpApiServer({ host: '127.0.0.1', port: 0, apiToken: 's3cret', maxBodyBytes: 1024, appId: 'unit' }, silentLogger);
    for (const route of routes) server.add(route);
    const address = (await server.listen()) as AddressInfo;
    url = `http://127.0.0.1:${address.port}`;
  });
  afterAll(() => server.close(1000));

  const token = { 'dapr-api-token': 's3cret' };

  it('routes by method and path, with params, query and body', async () => {
    const res = await fetch(`${url}/v1.0/echo/bob?q=1`, { method: 'POST', headers: token, body: 'hello' });
    expect(await res.text()).toBe('bob:5:1');
    expect((await fetch(`${url}//v1.0/echo/bob/`, { method: 'POST', headers: token, body: '' })).status).toBe(200); // duplicate and trailing slashes
  });

  it('needs the token everywhere but on public routes, compared in constant time', async () => {
    const denied = await fetch(`${url}/v1.0/echo/x`, { method: 'POST', body: '' });
    expect(denied.status).toBe(401);
    expect(await denied.text()).toBe('invalid api token');
    expect((await fetch(`${url}/v1.0/echo/x`, { method: 'POST', headers: { 'dapr-api-token': 's3creT' }, body: '' })).status).toBe(401);
    expect((await fetch(`${url}/v1.0/healthz`)).status).toBe(204);
  });

  it('refuses a body over maxBodyBytes with 413, declared or streamed', async () => {
    const declared = await fetch(`${url}/v1.0/echo/x`, { method: 'POST', headers: token, body: 'x'.repeat(1025) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ errorCode: 'ERR_BODY_TOO_LARGE' });
    expect((await fetch(`${url}/v1.0/echo/x`, { method: 'POST', headers: token, body: 'x'.repeat(1024) })).status).toBe(200);
  });

  it('maps errors through the error table and the route', async () => {
    const answer = async (how: string): Promise<[number, unknown]> => {
      const res = await fetch(`${url}/v1.0/fails/${how}`, { headers: token });
      return [res.status, await res.json()];
    };
    expect(await answer('api')).toEqual([418, { errorCode: 'ERR_TEAPOT', message: 'short and stout' }]);
    expect(await answer('table')).toEqual([
      404,
      {
        errorCode: 'ERR_PUBSUB_NOT_FOUND',
        message: 'no such pub/sub',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', domain: 'dapr.io', metadata: { appID: 'unit' }, reason: 'DAPR_PUBSUB_NOT_FOUND' }],
      },
    ]);
    expect(await answer('operation')).toEqual([400, { errorCode: 'ERR_OPERATION', message: 'bad etag' }]); // reported as the route's code
    expect(await answer('override')).toEqual([500, { errorCode: 'ERR_OPERATION', message: 'stale' }]); // the route's status for that code
    expect(await answer('plain')).toEqual([500, { errorCode: 'ERR_OPERATION', message: 'plain failure' }]);
  });

  it('sends unrouted requests to the fallback route (with the token), and a bad %-escape to 400', async () => {
    expect(await (await fetch(`${url}/anything/else`, { headers: token })).text()).toBe('fallback');
    expect(seen).toContain('/anything/else');
    expect((await fetch(`${url}/anything/else`)).status).toBe(401);
    const bad = await fetch(`${url}/v1.0/echo/a%zz`, { method: 'POST', headers: token, body: '' });
    expect(bad.status).toBe(400);
  });
});
