import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { ApiRoute } from '../../src/runtime/http-api/api-context';
import { HttpApiServer } from '../../src/runtime/http-api/http-api.server';
import { resolveOptions } from '../../src/runtime/sidekick.options';
import { captureLogs, silentLogger } from '../../src/testing';
import { tempDir } from '../support/app';

/** Where and how the HTTP API listens: several addresses, a Unix socket, and the head/body limits from the environment. */

const echo: ApiRoute = {
  name: 'echo',
  methods: ['POST', 'GET'],
  path: '/echo',
  errorCode: 'ERR_ECHO',
  handler: async (ctx) => {
    const body = await ctx.body();
    ctx.res.writeHead(200, { 'content-type': 'text/plain' });
    ctx.res.end(String(body.length));
  },
};

function call(
  target: { host: string; port: number } | { socketPath: string },
  method: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path: '/echo', method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const servers: HttpApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(1000)));
});

function serve(options: Partial<ConstructorParameters<typeof HttpApiServer>[0]>, logger = silentLogger): HttpApiServer {
  const server = new HttpApiServer({ host: '127.0.0.1', port: 0, maxBodyBytes: 1024, ...options }, logger);
  server.add(echo);
  servers.push(server);
  return server;
}

describe('HttpApiServer listening', () => {
  it('serves every address of a comma-separated host on the same port', async () => {
    const probe = serve({});
    const port = (await probe.listen())?.port ?? 0;
    await probe.close(1000);
    const server = serve({ host: '127.0.0.1, 127.0.0.2', port });
    expect((await server.listen())?.address).toBe('127.0.0.1');
    expect((await call({ host: '127.0.0.1', port }, 'POST', {}, Buffer.from('abc'))).body).toBe('3');
    expect((await call({ host: '127.0.0.2', port }, 'POST', {}, Buffer.from('abcd'))).body).toBe('4');
  });

  it('skips an address it cannot bind while another works (logged), and fails naming the fix when none works', async () => {
    const logs = captureLogs();
    const server = serve({ host: '192.0.2.1,127.0.0.1' }, logs);
    const address = await server.listen();
    expect(address?.address).toBe('127.0.0.1');
    expect(logs.lines).toEqual([expect.objectContaining({ level: 'warn', msg: 'one Dapr HTTP API address could not be bound: skipped' })]);
    await expect(serve({ host: '192.0.2.1' }).listen()).rejects.toThrow(
      'cannot serve the Dapr HTTP API on 192.0.2.1:0: EADDRNOTAVAIL. Bind an address of this machine (SIDEKICK_HTTP_HOST, httpApi.host, --dapr-listen-addresses).',
    );
  });

  it('serves a Unix socket only; replaces a stale socket file, refuses a live one or a plain file; removes it on close', async () => {
    const dir = tempDir('sk-api-sock-');
    const socketPath = join(dir, 'api.socket');
    const stale: Server = createServer();
    await new Promise<void>((ok) => stale.listen(socketPath, ok));
    // A live server there: refused.
    await expect(serve({ socketPath }).listen()).rejects.toThrow(`cannot serve the Dapr HTTP API on ${socketPath}: another process serves there`);
    await new Promise<void>((ok) => stale.close(() => ok()));
    // A socket file left behind by a crashed process (killed while listening): replaced.
    const crashed = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(crashed.signal).toBe('SIGKILL');
    expect(lstatSync(socketPath).isSocket()).toBe(true);
    writeFileSync(join(dir, 'plain'), 'x');
    await expect(serve({ socketPath: join(dir, 'plain') }).listen()).rejects.toThrow('a file that is not a socket is there');
    const server = serve({ socketPath, maxHeaderBytes: 2048 });
    expect(await server.listen()).toBeUndefined();
    expect(await call({ socketPath }, 'POST', {}, Buffer.from('hello'))).toEqual({ status: 200, body: '5' });
    expect((await call({ socketPath }, 'GET', { 'x-big': 'a'.repeat(3000) })).status).toBe(431);
    await server.close(1000);
    expect(existsSync(socketPath)).toBe(false);
  });

  it('with no body limit (Infinity) takes a large body', async () => {
    const server = serve({ maxBodyBytes: Infinity });
    const port = (await server.listen())?.port ?? 0;
    expect((await call({ host: '127.0.0.1', port }, 'POST', {}, Buffer.alloc(8 * 1024 * 1024, 1))).body).toBe(String(8 * 1024 * 1024));
  });
});

describe('HTTP API settings from the environment (sidekick run sets them for a sidecar or a Sidekick app)', () => {
  it('reads SIDEKICK_HTTP_MAX_BODY_BYTES, SIDEKICK_HTTP_MAX_HEADER_BYTES, SIDEKICK_HTTP_HOST and SIDEKICK_HTTP_SOCKET', () => {
    const env = {
      SIDEKICK_HTTP_MAX_BODY_BYTES: '65536',
      SIDEKICK_HTTP_MAX_HEADER_BYTES: '4096',
      SIDEKICK_HTTP_HOST: '0.0.0.0,::',
      SIDEKICK_HTTP_SOCKET: '/tmp/x.socket',
    };
    expect(resolveOptions({ appId: 'a' }, env).httpApi).toEqual(
      expect.objectContaining({ maxBodyBytes: 65536, maxHeaderBytes: 4096, host: '0.0.0.0,::', socketPath: '/tmp/x.socket' }),
    );
    const defaults = resolveOptions({ appId: 'a' }, {}).httpApi;
    expect(defaults).toEqual(expect.objectContaining({ maxBodyBytes: 4 * 1024 * 1024, maxHeaderBytes: undefined, host: '127.0.0.1', socketPath: undefined }));
    expect(resolveOptions({ appId: 'a' }, { SIDEKICK_HTTP_MAX_BODY_BYTES: '-1' }).httpApi.maxBodyBytes).toBe(Infinity);
    expect(() => resolveOptions({ appId: 'a' }, { SIDEKICK_HTTP_MAX_HEADER_BYTES: '4k' })).toThrow(
      'HTTP API header limit "4k" is not a positive whole number of bytes',
    );
    expect(() => resolveOptions({ appId: 'a', appChannel: { url: 'http://127.0.0.1:1', maxConcurrency: 0 } }, {})).toThrow(
      'appChannel.maxConcurrency must be a whole number from 1 up, got 0',
    );
  });
});
