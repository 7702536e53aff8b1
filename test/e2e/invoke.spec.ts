import { All, Controller, Get, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { join } from 'node:path';
import { InvokeStatusError, LocalRegistry, SidekickClient } from '../../src';
import { startApp, tempDir, type TestApp } from '../support/app';

@Controller()
class EchoController {
  @All('echo/*path')
  echo(@Req() req: Request, @Res() res: Response): void {
    res
      .status(201)
      .set('x-echo', 'yes')
      .json({
        method: req.method,
        path: req.path,
        query: req.query,
        body: req.body,
        caller: req.headers['dapr-caller-app-id'],
        custom: req.headers['x-custom'] ?? null,
        token: req.headers['dapr-api-token'] ?? null,
      });
  }

  @Get('teapot')
  teapot(@Res() res: Response): void {
    res.status(418).type('text/plain').send('short and stout');
  }

  @Post('slow')
  @HttpCode(200)
  async slow(): Promise<string> {
    await new Promise((r) => setTimeout(r, 1500));
    return 'late';
  }

  @Get('whoami')
  whoami(@Headers('dapr-callee-app-id') callee: string): { callee: string } {
    return { callee };
  }
}

describe('service invocation', () => {
  let dir: string;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    dir = tempDir();
    const registry = join(dir, 'registry');
    a = await startApp(
      { appId: 'app-a', invokeTimeoutMs: 500, nameResolution: { localRegistry: registry, static: { 'static-b': 'http://127.0.0.1:1' } } },
      { controllers: [EchoController] },
    );
    b = await startApp({ appId: 'app-b', nameResolution: { localRegistry: registry } }, { controllers: [EchoController] });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('passes verb, path, query, headers and body to this app in-process and returns status, headers and body unchanged', async () => {
    const res = await fetch(`${a.apiUrl}/v1.0/invoke/app-a/method/echo/deep/path?x=1&y=two`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-custom': 'hello' },
      body: JSON.stringify({ n: 1 }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-echo')).toBe('yes');
    expect(await res.json()).toEqual({
      method: 'PUT',
      path: '/echo/deep/path',
      query: { x: '1', y: 'two' },
      body: { n: 1 },
      caller: 'app-a',
      custom: 'hello',
      token: null,
    });
  });

  it('leaves the app serving its real HTTP traffic after in-process calls', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await fetch(`${a.apiUrl}/v1.0/invoke/app-a/method/echo/in-process`)).status).toBe(201);
      const direct = await fetch(`${a.appUrl}/echo/direct`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"d":1}' });
      expect(direct.status).toBe(201);
      expect(await direct.json()).toMatchObject({ path: '/echo/direct', body: { d: 1 } });
    }
  });

  it('passes a 4xx from the target through unchanged', async () => {
    const res = await fetch(`${a.apiUrl}/v1.0/invoke/app-a/method/teapot`);
    expect(res.status).toBe(418);
    expect(await res.text()).toBe('short and stout');
    const missing = await fetch(`${a.apiUrl}/v1.0/invoke/app-a/method/no-such-route`);
    expect(missing.status).toBe(404);
  });

  it('supports the dapr-app-id header form', async () => {
    const res = await fetch(`${a.apiUrl}/echo/via-header?q=1`, {
      method: 'POST',
      headers: { 'dapr-app-id': 'app-a', 'content-type': 'application/json' },
      body: '{"h":true}',
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ method: 'POST', path: '/echo/via-header', query: { q: '1' }, body: { h: true } });
  });

  it('finds another app through the local registry and calls it over HTTP', async () => {
    const res = await fetch(`${a.apiUrl}/v1.0/invoke/app-b/method/whoami`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ callee: 'app-b' });
    const apps = new LocalRegistry(join(dir, 'registry'))
      .list()
      .map((r) => r.appId)
      .sort();
    expect(apps).toEqual(['app-a', 'app-b']);
  });

  it('gives 500 ERR_DIRECT_INVOKE for an unknown app id', async () => {
    const res = await fetch(`${a.apiUrl}/v1.0/invoke/ghost/method/anything`);
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.errorCode).toBe('ERR_DIRECT_INVOKE');
    expect(body.message).toContain('ghost');
  });

  it('gives 500 ERR_DIRECT_INVOKE when a static entry is unreachable, without the internal address', async () => {
    const res = await fetch(`${a.apiUrl}/v1.0/invoke/static-b/method/x`);
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.errorCode).toBe('ERR_DIRECT_INVOKE');
    expect(body.message).toMatch(/could not be reached \(ECONNREFUSED\)/);
    expect(body.message).not.toContain('127.0.0.1');
  });

  it('times out with 500 ERR_DIRECT_INVOKE after invokeTimeoutMs', async () => {
    const started = Date.now();
    const res = await fetch(`${a.apiUrl}/v1.0/invoke/app-a/method/slow`, { method: 'POST' });
    expect(res.status).toBe(500);
    expect((await res.json()).message).toContain('timed out');
    expect(Date.now() - started).toBeLessThan(1400);
  });

  it('SidekickClient.invoke decodes JSON, sends query and headers, and throws InvokeStatusError on non-2xx', async () => {
    const client = a.app.get(SidekickClient);
    const echoed = await client.invoke<{ method: string; query: unknown; body: unknown; custom: string }>(
      'app-b',
      'echo/x',
      { hi: 1 },
      { httpVerb: 'PATCH', query: { a: 1 }, headers: { 'x-custom': 'c' } },
    );
    expect(echoed).toMatchObject({ method: 'PATCH', query: { a: '1' }, body: { hi: 1 }, custom: 'c' });
    await expect(client.invoke('app-a', 'teapot')).rejects.toBeInstanceOf(InvokeStatusError);
    await expect(client.invoke('app-a', 'teapot')).rejects.toMatchObject({ status: 418 });
  });

  it('leaves the local registry on shutdown', async () => {
    const registry = join(dir, 'registry');
    const c = await startApp({ appId: 'app-c', nameResolution: { localRegistry: registry } });
    expect(new LocalRegistry(registry).list().some((r) => r.appId === 'app-c')).toBe(true);
    await c.close();
    expect(new LocalRegistry(registry).list().some((r) => r.appId === 'app-c')).toBe(false);
  });
});
