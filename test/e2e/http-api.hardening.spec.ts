import { All, Controller, Get, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SidekickClient } from '../../src';
import { startApp, tempDir, type TestApp } from '../support/app';
import { captureLogs } from '../support/logger';

/** A request sent as written: no client-side normalisation of `..` or `%2E%2E`, any header. */
function raw(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: Number(port), path, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

@Controller()
class TargetController {
  @All('echo/*path')
  echo(@Req() req: Request, @Res() res: Response): void {
    res.json({ path: req.path });
  }

  @Get('secret')
  secret(): string {
    return 'not for you';
  }

  @Post('slow')
  async slow(): Promise<string> {
    await new Promise((r) => setTimeout(r, 600));
    return 'late';
  }
}

describe('the Dapr HTTP API under hostile input', () => {
  let dir: string;
  let t: TestApp;
  let base: Server;
  let basePaths: string[];
  beforeAll(async () => {
    dir = tempDir();
    basePaths = [];
    base = createServer((req, res) => {
      basePaths.push(req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((r) => base.listen(0, '127.0.0.1', r));
    const port = (base.address() as AddressInfo).port;
    t = await startApp(
      {
        appId: 'hard',
        httpApi: { port: 0, maxBulkKeys: 100, headersTimeoutMs: 500, requestTimeoutMs: 1000 },
        nameResolution: { localRegistry: join(dir, 'registry'), static: { based: `http://127.0.0.1:${port}/base` } },
      },
      { controllers: [TargetController] },
    );
  });
  afterAll(async () => {
    await t.close();
    await new Promise((r) => base.close(r));
  });

  const api = (path: string, init?: RequestInit): Promise<globalThis.Response> => fetch(`${t.apiUrl}${path}`, init);
  const save = (body: unknown, path = '/v1.0/state/statestore'): Promise<globalThis.Response> =>
    api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  describe('app ids and the local registry (path traversal)', () => {
    it('refuses the app id ".." by URL and by header, and leaves files beside the registry alone', async () => {
      const victim = join(dir, 'victim.json');
      writeFileSync(victim, JSON.stringify({ note: 'no pid: the old registry took this as a dead instance and removed it' }));
      for (const res of [
        await raw(t.apiUrl, '/v1.0/invoke/%2E%2E/method/x'),
        await raw(t.apiUrl, '/x', { headers: { 'dapr-app-id': '..' } }),
        await raw(t.apiUrl, '/v1.0/invoke/a%2Fb/method/x'),
      ]) {
        expect(res.status).toBe(400);
        expect(JSON.parse(res.body)).toMatchObject({ errorCode: 'ERR_DIRECT_INVOKE', message: expect.stringContaining('invalid app id') });
      }
      expect(existsSync(victim)).toBe(true);
    });

    it('ignores a planted entry whose file name is not its pid, and one for another app id', async () => {
      const folder = join(dir, 'registry', 'planted');
      mkdirSync(folder, { recursive: true });
      const entry = { appId: 'planted', pid: process.pid, baseUrl: `http://127.0.0.1:${(base.address() as AddressInfo).port}`, startedAt: '' };
      writeFileSync(join(folder, 'evil.json'), JSON.stringify(entry));
      writeFileSync(join(folder, '1.json'), JSON.stringify(entry)); // names pid 1, holds another pid
      const res = await api('/v1.0/invoke/planted/method/x');
      expect(res.status).toBe(500);
      expect((await res.json()).message).toMatch(/not found by name resolution/);
      expect(existsSync(join(folder, 'evil.json'))).toBe(true);
    });

    it('fails start-up naming the registry folder when others can write to it', async () => {
      const open = join(tempDir(), 'registry');
      mkdirSync(open, { recursive: true });
      chmodSync(open, 0o777);
      await expect(startApp({ appId: 'victim', nameResolution: { localRegistry: open } })).rejects.toThrow(
        /local registry folder .* is writable by other users \(mode 777\): refusing to use it/,
      );
    });
  });

  describe('invocation paths', () => {
    it('resolves .. segments the same way for this app and for others, never above the base path', async () => {
      const self = await raw(t.apiUrl, '/v1.0/invoke/hard/method/echo/a/../b');
      expect(JSON.parse(self.body)).toEqual({ path: '/echo/b' });
      const up = await raw(t.apiUrl, '/v1.0/invoke/hard/method/echo/..%2F..%2Fsecret');
      expect(up.status).toBe(200);
      expect(up.body).toBe('not for you'); // %2F is a separator once decoded: normalised to /secret, inside this app
      await raw(t.apiUrl, '/v1.0/invoke/based/method/../../admin');
      await raw(t.apiUrl, '/v1.0/invoke/based/method/x/%2e%2e/y');
      expect(basePaths).toEqual(['/base/admin', '/base/y']);
    });

    it('forwards a large body with Expect: 100-continue (as curl sends above 1 MiB)', async () => {
      const res = await raw(t.apiUrl, '/v1.0/invoke/based/method/upload', {
        method: 'POST',
        headers: { expect: '100-continue', 'content-type': 'text/plain' },
        body: 'x'.repeat(2 * 1024 * 1024),
      });
      expect(res.status).toBe(200);
      expect(res.body).toBe('ok');
    });
  });

  describe('poison and overload', () => {
    it('refuses a TTL no date can hold, on save and on publish, the same way', async () => {
      const res = await save([{ key: 'ttl', value: 1, metadata: { ttlInSeconds: '99999999999999999999' } }]);
      expect(res.status).toBe(400);
      expect((await res.json()).message).toMatch(/ttlInSeconds/);
      expect((await api('/v1.0/state/statestore/ttl')).status).toBe(204);
      const pub = await api('/v1.0/publish/pubsub/t?metadata.ttlInSeconds=abc', {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(pub.status).toBe(400);
      expect(await pub.json()).toMatchObject({ errorCode: 'ERR_PUBSUB_REQUEST_METADATA' });
    });

    it('saves, reads and deletes keys of 2 000 characters and keys holding "/"', async () => {
      const long = 'k'.repeat(2000);
      for (const key of [long, 'a/b/c']) {
        expect((await save([{ key, value: { ok: key.length } }])).status).toBe(204);
        const path = `/v1.0/state/statestore/${key === long ? long : 'a/b/c'}`;
        expect(await (await api(path)).json()).toEqual({ ok: key.length });
        expect((await api(path, { method: 'DELETE' })).status).toBe(204);
        expect((await api(path)).status).toBe(204);
      }
      expect((await api('/v1.0/state/statestore/a%2Fb')).status).toBe(204);
    });

    it('answers a state error, not an invoke error, for a bad %-escape, and refuses keys too long to read back', async () => {
      const bad = await api('/v1.0/state/statestore/a%zz');
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ errorCode: 'ERR_MALFORMED_REQUEST' });
      const huge = await save([{ key: 'x'.repeat(13 * 1024), value: 1 }]);
      expect(huge.status).toBe(400);
      expect((await huge.json()).message).toMatch(/could not be read back by URL/);
    });

    it('bounds a bulk get by httpApi.maxBulkKeys', async () => {
      const keys = Array.from({ length: 101 }, (_, i) => `k${i}`);
      const res = await api('/v1.0/state/statestore/bulk', { method: 'POST', body: JSON.stringify({ keys }) });
      expect(res.status).toBe(400);
      expect((await res.json()).message).toMatch(/at most 100 keys/);
      const ok = await api('/v1.0/state/statestore/bulk', { method: 'POST', body: JSON.stringify({ keys: keys.slice(0, 100) }) });
      expect((await ok.json()).length).toBe(100);
    });

    it('bounds custom metadata in count and size', async () => {
      expect((await api('/v1.0/metadata/big', { method: 'PUT', body: 'x'.repeat(65 * 1024) })).status).toBe(400);
      for (let i = 0; i < 100; i++) expect((await api(`/v1.0/metadata/k${i}`, { method: 'PUT', body: 'v' })).status).toBe(204);
      const over = await api('/v1.0/metadata/k100', { method: 'PUT', body: 'v' });
      expect(over.status).toBe(400);
      expect((await api('/v1.0/metadata/k5', { method: 'PUT', body: 'replaced' })).status).toBe(204);
    });

    it('answers 400, not 500, to JSON nested 100 000 levels deep', async () => {
      const deep = `[{"key":"d","value":${'['.repeat(100_000)}${']'.repeat(100_000)}}]`;
      const res = await api('/v1.0/state/statestore', { method: 'POST', body: deep });
      expect(res.status).toBe(400);
      expect((await res.json()).message).toMatch(/nested deeper than 1000 levels/);
    });

    it('closes a connection whose headers do not arrive within headersTimeoutMs', async () => {
      const port = Number(new URL(t.apiUrl).port);
      const started = Date.now();
      const closedAfter = await new Promise<number>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write('GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\n'));
        socket.resume(); // read (and drop) the 408 so 'close' can follow
        socket.on('close', () => resolve(Date.now() - started));
        socket.on('error', () => undefined);
        setTimeout(() => reject(new Error('the slow connection was still open after 5 s')), 5000).unref();
      });
      expect(closedAfter).toBeLessThan(3500);
    });
  });

  describe('Dapr contract', () => {
    it('answers 501 ERR_NOT_SUPPORTED on Dapr API prefixes this runtime does not serve, never an invoke error', async () => {
      for (const path of ['/v1.0-alpha1/jobs/job1', '/v1.0-alpha1/crypto/store/encrypt']) {
        const res = await api(path, { method: 'POST' });
        expect(res.status).toBe(501);
        expect(await res.json()).toMatchObject({ errorCode: 'ERR_NOT_SUPPORTED' });
      }
    });

    it('decodes field names case-insensitively as daprd does (entryID from @dapr/dapr)', async () => {
      const res = await api('/v1.0-alpha1/publish/bulk/pubsub/ci', {
        method: 'POST',
        body: JSON.stringify([{ entryID: '1', event: { a: 1 }, ContentType: 'application/json' }]),
      });
      expect(res.status).toBe(204);
      expect((await save([{ Key: 'ci', Value: 7 }])).status).toBe(204);
      expect(await t.app.get(SidekickClient).state('statestore').get('ci')).toBe(7);
    });

    it('answers Connection: close once shutdown began, and still answers the request', async () => {
      const other = await startApp({ appId: 'draining' }, { controllers: [TargetController] });
      const slow = fetch(`${other.apiUrl}/v1.0/invoke/draining/method/slow`, { method: 'POST' });
      await new Promise((r) => setTimeout(r, 150));
      const closing = other.close();
      const res = await slow;
      expect(res.status).toBe(201);
      expect(await res.text()).toBe('late');
      expect(res.headers.get('connection')).toBe('close');
      await closing;
    });
  });

  it('warns when the API listens beyond loopback without a token, and not on loopback or with a token', async () => {
    const { isLoopback } = await import('../../src/runtime/sidekick.runtime');
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5'].some(isLoopback)).toBe(false);
    for (const [host, apiToken, warned] of [
      ['0.0.0.0', undefined, true],
      ['0.0.0.0', 's3cret', false],
      ['127.0.0.1', undefined, false],
    ] as const) {
      const logs = captureLogs();
      const app = await startApp({ appId: 'exposed', logger: logs, httpApi: { host, port: 0, apiToken } });
      await app.close();
      expect(logs.find({ level: 'warn', text: 'reachable from other machines' }).length > 0).toBe(warned);
    }
  });
});
