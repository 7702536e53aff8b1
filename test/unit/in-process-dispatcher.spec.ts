import type { IncomingMessage, ServerResponse } from 'node:http';
import { dispatchInProcess } from '../../src/runtime/blocks/invoke/in-process.dispatcher';
import { normalizeMethod } from '../../src/runtime/blocks/invoke/invoke.service';

/** In-process dispatch: a real IncomingMessage/ServerResponse pair, the response captured, no socket. */
describe('dispatchInProcess', () => {
  const echo = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('x-method', req.method ?? '');
      res.writeHead(201, { 'content-type': 'application/json' });
      res.write('{"url":');
      res.end(`${JSON.stringify(req.url)},"body":${JSON.stringify(Buffer.concat(chunks).toString())},"h":${JSON.stringify(req.headers['x-h'] ?? null)}}`);
    });
  };

  it('passes method, url, headers and body, and captures status, headers and every written chunk', async () => {
    const res = await dispatchInProcess(echo, { method: 'post', url: '/a/b?x=1', headers: { 'X-H': 'v' }, body: Buffer.from('hi') });
    expect(res.status).toBe(201);
    expect(res.headers).toMatchObject({ 'content-type': 'application/json', 'x-method': 'POST' });
    expect(JSON.parse(res.body.toString())).toEqual({ url: '/a/b?x=1', body: 'hi', h: 'v' });
  });

  it('gives a GET no body and no content-length, a POST without body content-length 0', async () => {
    const seen: (string | undefined)[] = [];
    const listener = (req: IncomingMessage, res: ServerResponse): void => {
      seen.push(req.headers['content-length']);
      res.end();
    };
    await dispatchInProcess(listener, { method: 'GET', url: '/', headers: {} });
    await dispatchInProcess(listener, { method: 'POST', url: '/', headers: {} });
    expect(seen).toEqual([undefined, '0']);
  });

  it('rejects when the listener throws synchronously', async () => {
    await expect(
      dispatchInProcess(
        () => {
          throw new Error('broken app');
        },
        { method: 'GET', url: '/', headers: {} },
      ),
    ).rejects.toThrow('broken app');
  });
});

describe('normalizeMethod (invocation paths)', () => {
  it.each([
    ['orders', 'orders'],
    ['/orders/1', 'orders/1'],
    ['a/./b', 'a/b'],
    ['a/../b', 'b'],
    ['../../etc/passwd', 'etc/passwd'],
    ['a/%2e%2e/%2E%2E/b', 'b'],
    ['a//b', 'a/b'],
    ['orders/', 'orders/'],
  ])('%s -> %s', (method, path) => {
    expect(normalizeMethod(method)).toBe(path);
  });
});
