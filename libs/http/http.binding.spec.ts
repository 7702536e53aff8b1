import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../src/errors/config.errors';
import { SidekickError } from '../../src/errors/sidekick.error';
import { SystemClock } from '../../src/runtime/time/system.clock';
import type { ComponentMetadata } from '../../src/spi/component';
import { noopLogger } from '../../test/support/logger';
import { type HttpBinding, HttpBindingStatusError, httpBindingFactory } from './http.binding';
import { componentInit } from '../../src/spi/metadata-reader';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe('bindings.http', () => {
  let server: Server;
  let base = '';
  const seen: Seen[] = [];
  const open: HttpBinding[] = [];

  async function openBinding(md: ComponentMetadata): Promise<HttpBinding> {
    const binding = httpBindingFactory.create();
    await binding.init(
      componentInit({
        name: 'web',
        type: 'bindings.http',
        appId: 'app',
        metadata: md,
        clock: new SystemClock(),
        logger: noopLogger,
        source: 'components/http.yaml',
      }),
    );
    open.push(binding);
    return binding;
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
        if (req.url === '/missing') {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('no such thing here');
        } else if (req.url === '/slow') {
          setTimeout(() => res.end('late'), 2000).unref();
        } else if (req.url === '/big') {
          res.end('x'.repeat(5000));
        } else {
          res.setHeader('x-reply', ['a', 'b']);
          res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
          res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ method: req.method, url: req.url }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await Promise.all(open.map((b) => b.close()));
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
  });

  it('create POSTs the bytes to url + path, with upper-case metadata as headers', async () => {
    const http = await openBinding({ url: `${base}/api/` });
    const res = await http.invoke({
      operation: 'create',
      data: Buffer.from('{"n":1}'),
      metadata: { path: '/orders', 'X-Trace-Me': 'yes', lower: 'not a header', traceparent: '00-abc-def-01' },
    });
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/orders', body: '{"n":1}' });
    expect(seen[0]?.headers).toMatchObject({
      'x-trace-me': 'yes',
      traceparent: '00-abc-def-01',
      'content-type': 'application/json; charset=utf-8',
      accept: 'application/json; charset=utf-8',
    });
    expect(seen[0]?.headers['lower']).toBeUndefined();
    expect(JSON.parse(res.data?.toString() ?? '')).toEqual({ method: 'POST', url: '/api/orders' });
    expect(res.metadata).toMatchObject({ statusCode: '201', status: '201 Created', 'Content-Type': 'application/json', 'X-Reply': 'a, b' });
  });

  it('sends each operation as its HTTP method, a body only for post/put/patch, and the security token', async () => {
    const http = await openBinding({ url: base, securityToken: 's3cret', securityTokenHeader: 'Authorization' });
    for (const operation of ['get', 'post', 'put', 'patch', 'delete', 'options']) {
      await http.invoke({ operation, data: Buffer.from('payload'), metadata: { path: `op/${operation}`, 'Content-Type': 'text/plain' } });
    }
    expect(seen.map((s) => [s.method, s.url, s.body])).toEqual([
      ['GET', '/op/get', ''],
      ['POST', '/op/post', 'payload'],
      ['PUT', '/op/put', 'payload'],
      ['PATCH', '/op/patch', 'payload'],
      ['DELETE', '/op/delete', ''],
      ['OPTIONS', '/op/options', ''],
    ]);
    expect(seen.every((s) => s.headers.authorization === 's3cret')).toBe(true);
    expect(seen[1]?.headers['content-type']).toBe('text/plain');
  });

  it('HEAD returns no body but the status and headers', async () => {
    const http = await openBinding({ url: base });
    const res = await http.invoke({ operation: 'head', data: Buffer.alloc(0), metadata: {} });
    expect(seen[0]?.method).toBe('HEAD');
    expect(res.data?.length).toBe(0);
    expect(res.metadata).toMatchObject({ statusCode: '200', 'Content-Type': 'application/json' });
  });

  it('a 404 throws ERR_INVOKE_OUTPUT_BINDING with the status and a body excerpt; errorIfNot2XX=false returns it', async () => {
    const http = await openBinding({ url: base });
    const err: unknown = await http.invoke({ operation: 'get', data: Buffer.alloc(0), metadata: { path: 'missing' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpBindingStatusError);
    expect((err as SidekickError).code).toBe('ERR_INVOKE_OUTPUT_BINDING');
    expect((err as Error).message).toBe('received status code 404: no such thing here');
    expect((err as HttpBindingStatusError).metadata.statusCode).toBe('404');
    const res = await http.invoke({ operation: 'get', data: Buffer.alloc(0), metadata: { path: 'missing', errorIfNot2XX: 'false' } });
    expect(res.metadata?.status).toBe('404 Not Found');
    expect(res.data?.toString()).toBe('no such thing here');
  });

  it('truncates bodies beyond maxResponseBodySize and times out after responseTimeout', async () => {
    const http = await openBinding({ url: base, maxResponseBodySize: '1Ki', responseTimeout: '150ms' });
    const big = await http.invoke({ operation: 'get', data: Buffer.alloc(0), metadata: { path: 'big' } });
    expect(big.data?.length).toBe(1024);
    const started = Date.now();
    const err: unknown = await http.invoke({ operation: 'get', data: Buffer.alloc(0), metadata: { path: 'slow' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SidekickError);
    expect((err as Error).message).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/slow failed: .*timeout/i);
    expect(Date.now() - started).toBeLessThan(1900); // undici checks timeouts on a coarse (~1 s) tick
  });

  it('names the URL when the server is unreachable', async () => {
    const http = await openBinding({ url: 'http://127.0.0.1:1' });
    await expect(http.invoke({ operation: 'get', data: Buffer.alloc(0), metadata: {} })).rejects.toThrow(
      /http binding web: GET http:\/\/127\.0\.0\.1:1 failed: .*ECONNREFUSED/,
    );
  });

  it('rejects bad metadata with a ConfigError naming the field', async () => {
    const cases: [ComponentMetadata, RegExp][] = [
      [{}, /spec\.metadata\.url: url is required/],
      [{ url: 'not a url' }, /spec\.metadata\.url: "not a url" is not an absolute URL/],
      [{ url: 'ftp://example.com' }, /spec\.metadata\.url: "ftp:\/\/example.com" is not an http/],
      [{ url: base, maxResponseBodySize: 'lots' }, /spec\.metadata\.maxResponseBodySize: "lots" is not a size/],
      [{ url: base, responseTimeout: 'soon' }, /spec\.metadata\.responseTimeout: "soon" is not a duration/],
      [{ url: base, securityToken: 'x' }, /spec\.metadata\.securityTokenHeader/],
    ];
    for (const [md, message] of cases) {
      const err: unknown = await openBinding(md).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toContain('components/http.yaml: component "web"');
    }
  });
});
