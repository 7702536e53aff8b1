import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Agent, request as undiciRequest } from 'undici';
import { tempDir } from '../support/app';
import { cli, cliEnv, cliProcesses, eventually, getJson, startCli } from '../support/cli';
import { freePort, type Proc } from '../support/processes';

/**
 * `sidekick run` with daprd's flags for the sidecar-to-app hop and the Dapr HTTP API
 * (--app-max-concurrency, --max-body-size, --read-buffer-size, --dapr-listen-addresses,
 * --app-channel-address), each through a spawned CLI and a plain node:http app (test/fixtures/sidecar/slow-app.js).
 */

jest.setTimeout(120_000);

const running = cliProcesses();

interface Stats {
  max: number;
  served: number;
  inFlight: number;
  host: string;
  appChannelAddress: string | null;
}

async function start(
  name: string,
  flags: readonly string[],
  appHost = '127.0.0.1',
): Promise<{ run: Proc; api: string; app: string; env: Record<string, string> }> {
  const [appPort, httpPort] = [await freePort(), await freePort()];
  const env = cliEnv();
  const run = startCli(
    `sidekick run (${name})`,
    ['run', '--app-id', name, '--app-port', String(appPort), '--dapr-http-port', String(httpPort), ...flags, '--', 'node', 'slow-app.js'],
    env,
  );
  running.push(run);
  await run.waitFor('the app', () => run.out.includes('slow app listening on') && run.out.includes("You're up and running!"), 60_000);
  return { run, api: `http://127.0.0.1:${httpPort}`, app: `http://${appHost}:${appPort}`, env };
}

/** A raw request (node:http, so no client-side header limit and a 431 is read as sent). */
function raw(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('--app-max-concurrency 3: of 20 concurrent invocations (and 10 pub/sub deliveries) through the sidecar, at most 3 reach the app at once, and all answer 200', async () => {
  const { api, app } = await start('slow-limited', ['--app-max-concurrency', '3']);
  // The sidecar reads the app's GET /dapr/subscribe once the app's port is open: publish after that.
  await eventually(
    'the subscription',
    () => getJson<{ subscriptions: unknown[] }>(`${api}/v1.0/metadata`),
    (m) => m.subscriptions.length === 1,
  );
  const published = Array.from({ length: 10 }, (_, i) =>
    fetch(`${api}/v1.0/publish/pubsub/jobs`, { method: 'POST', body: JSON.stringify({ i }), headers: { 'content-type': 'application/json' } }),
  );
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) => fetch(`${api}/v1.0/invoke/slow-limited/method/work?i=${i}`, { method: 'POST', body: 'x' })),
  );
  expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
  expect((await Promise.all(published)).map((r) => r.status)).toEqual(Array(10).fill(204));
  const stats = await eventually(
    'the 10 events',
    () => getJson<Stats>(`${app}/stats`),
    (s) => s.served === 30,
    30_000,
  );
  expect(stats.max).toBe(3); // the limit, and reached: the others waited rather than failed
});

test('without --app-max-concurrency the same 20 invocations reach the app together (the limit above is what held them)', async () => {
  const { api, app } = await start('slow-unlimited', []);
  const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${api}/v1.0/invoke/slow-unlimited/method/work`, { method: 'POST', body: 'x' })));
  expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
  expect((await getJson<Stats>(`${app}/stats`)).max).toBeGreaterThan(3);
});

test("--max-body-size and --read-buffer-size: a body over the limit answers 413 with Sidekick's error body, oversized headers 431; under both, 2xx", async () => {
  const { api } = await start('slow-sizes', ['--max-body-size', '64Ki', '--read-buffer-size', '4Ki']);
  const publish = `${api}/v1.0/publish/pubsub/big`;
  const json = { 'content-type': 'application/json' };
  const fits = Buffer.from(JSON.stringify({ pad: 'a'.repeat(64 * 1024 - 10) }));
  expect(fits.length).toBe(64 * 1024);
  expect((await raw(publish, 'POST', json, fits)).status).toBe(204);
  const over = Buffer.from(JSON.stringify({ pad: 'a'.repeat(64 * 1024 - 9) }));
  const refused = await raw(publish, 'POST', json, over);
  expect(refused.status).toBe(413);
  expect(JSON.parse(refused.body)).toEqual(
    expect.objectContaining({ errorCode: 'ERR_BODY_TOO_LARGE', message: expect.stringContaining('larger than the limit of 65536 bytes') }),
  );
  // The same body, chunked (no content-length): cut while it streams in.
  expect((await raw(publish, 'POST', { ...json, 'transfer-encoding': 'chunked' }, over)).status).toBe(413);

  expect((await raw(`${api}/v1.0/healthz`, 'GET', { 'x-note': 'a'.repeat(3000) })).status).toBe(204);
  expect((await raw(`${api}/v1.0/healthz`, 'GET', { 'x-note': 'a'.repeat(5000) })).status).toBe(431);
  // The default limit (Node's 16 KiB) would have let that through: the flag set it.
});

test('--dapr-http-max-request-size (MB, deprecated) sets the body limit too', async () => {
  const { api } = await start('slow-mb', ['--dapr-http-max-request-size', '1']);
  const body = (n: number): Buffer => Buffer.alloc(n, 'a');
  expect((await raw(`${api}/v1.0/invoke/slow-mb/method/work`, 'POST', {}, body(2 ** 20))).status).toBe(200);
  expect((await raw(`${api}/v1.0/invoke/slow-mb/method/work`, 'POST', {}, body(2 ** 20 + 1))).status).toBe(413);
});

test('--dapr-listen-addresses binds the HTTP API there only; --app-channel-address is where the sidecar reaches the app (given to it as APP_CHANNEL_ADDRESS)', async () => {
  const { run, api, app, env } = await start('slow-addresses', ['--dapr-listen-addresses', '127.0.0.2', '--app-channel-address', '127.0.0.3'], '127.0.0.3');
  const on2 = api.replace('127.0.0.1', '127.0.0.2');
  expect(run.out).toContain(`Dapr HTTP API on ${on2}, app port`);
  expect((await fetch(`${on2}/v1.0/healthz`)).status).toBe(204);
  await expect(fetch(`${api}/v1.0/healthz`)).rejects.toThrow(); // not on 127.0.0.1
  const res = await fetch(`${on2}/v1.0/invoke/slow-addresses/method/work`, { method: 'POST', body: 'hi' });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true, bytes: 2 });
  expect(await getJson<Stats>(`${app}/stats`)).toEqual(expect.objectContaining({ served: 1, host: '127.0.0.3', appChannelAddress: '127.0.0.3' }));
  // The other commands find the API where it listens.
  const invoked = await cli(['invoke', '--app-id', 'slow-addresses', '--method', 'work', '--verb', 'POST', '--data', 'abc'], env);
  expect(invoked).toEqual(expect.objectContaining({ code: 0, stdout: expect.stringContaining('"bytes":3') }));
});

test('--unix-domain-socket DIR: the HTTP API is served on DIR/dapr-<app id>-http.socket and on no TCP port; the app gets the path', async () => {
  const dir = tempDir('sk-uds-');
  const socketPath = join(dir, 'dapr-slow-uds-http.socket');
  const { run, api, app, env } = await start('slow-uds', ['--unix-domain-socket', dir]);
  expect(run.out).toContain(`Starting "slow-uds" with a Sidekick sidecar: Dapr HTTP API on unix:${socketPath}, app port`);
  const dispatcher = new Agent({ connect: { socketPath } });
  try {
    const health = await undiciRequest('http://localhost/v1.0/healthz', { dispatcher });
    await health.body.dump();
    expect(health.statusCode).toBe(204);
    const invoked = await undiciRequest('http://localhost/v1.0/invoke/slow-uds/method/work', { method: 'POST', body: 'abc', dispatcher });
    expect(invoked.statusCode).toBe(200);
    expect(await invoked.body.json()).toEqual({ ok: true, bytes: 3 });
    const metadata = await undiciRequest('http://localhost/v1.0/metadata', { dispatcher });
    expect(await metadata.body.json()).toEqual(
      expect.objectContaining({ id: 'slow-uds', extended: expect.objectContaining({ cliPID: String(run.child.pid) }) }),
    );
  } finally {
    await dispatcher.close();
  }
  await expect(fetch(`${api}/v1.0/healthz`)).rejects.toThrow(); // no TCP port
  const invoked = await cli(['invoke', '--app-id', 'slow-uds', '--method', 'work', '--verb', 'POST'], env);
  expect(invoked.code).toBe(1);
  expect(invoked.stderr).toContain(`"slow-uds" serves its Dapr HTTP API on the Unix socket ${socketPath} only (--unix-domain-socket)`);
  expect(await getJson<Stats & { socket: string | null }>(`${app}/stats`)).toEqual(expect.objectContaining({ socket: socketPath, httpPort: null }));
  run.child.kill('SIGINT');
  expect((await run.waitExit(30_000)).code).toBe(0);
  expect(existsSync(socketPath)).toBe(false); // removed when the sidecar stopped
});

test('bad values: one clear error line and a non-zero exit, before anything starts', async () => {
  const env = cliEnv();
  const longDir = join(tempDir('sk-uds-long-'), 'd'.repeat(100));
  mkdirSync(longDir);
  const cases: [string[], string][] = [
    [['--app-max-concurrency', '0'], 'error: --app-max-concurrency "0" must be a whole number from 1 up (requests to the app at a time), or -1 for no limit'],
    [['--app-max-concurrency', '-5'], 'error: --app-max-concurrency "-5" must be a whole number from 1 up'],
    [['--max-body-size', '4MB'], 'error: --max-body-size "4MB" is not a size: write bytes (4194304) or a number with a unit, e.g. 4Mi, 512Ki, 8M'],
    [['--dapr-http-read-buffer-size', 'big'], 'error: --dapr-http-read-buffer-size "big" is not a whole number of KB'],
    [['--dapr-listen-addresses', 'example.com'], 'error: --dapr-listen-addresses: "example.com" is not an IP address'],
    [['--app-channel-address', 'http://127.0.0.1:3000'], 'error: --app-channel-address "http://127.0.0.1:3000" is not a host'],
    [['--unix-domain-socket', '/no/such/dir'], 'error: --unix-domain-socket /no/such/dir: no such folder (/no/such/dir): create it or name another'],
    [['-u', longDir], 'is longer than 107 bytes: choose a shorter folder, e.g. /tmp'],
  ];
  for (const [flags, message] of cases) {
    const result = await cli(['run', '--app-id', 'bad', '--app-port', '3999', ...flags, '--', 'node', 'slow-app.js'], env);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining(message)]);
    expect(result.stdout).not.toContain('Starting');
  }
});

test('a Sidekick app (in-process handlers, no sidecar): --app-max-concurrency and --app-channel-address are ignored with a warning; the API limits reach its runtime', async () => {
  const env = cliEnv();
  const result = await cli(
    [
      'run',
      '--app-id',
      'inproc',
      '--sidekick',
      '--app-max-concurrency',
      '3',
      '--app-channel-address',
      '127.0.0.3',
      '--max-body-size',
      '1Mi',
      '--read-buffer-size',
      '8Ki',
      '--',
      'node',
      '-e',
      'console.log(JSON.stringify([process.env.SIDEKICK_HTTP_MAX_BODY_BYTES, process.env.SIDEKICK_HTTP_MAX_HEADER_BYTES, process.env.SIDEKICK_APP_MAX_CONCURRENCY ?? null]))',
    ],
    env,
  );
  expect(result.code).toBe(0);
  expect(result.stderr).toContain(
    "warning: inproc: --app-max-concurrency limits a sidecar's requests to its app; a Sidekick app runs its handlers in-process: ignored",
  );
  expect(result.stderr).toContain('warning: inproc: --app-channel-address is where a sidecar reaches its app; a Sidekick app has no sidecar: ignored');
  expect(result.stdout).toContain(`== APP == ["${2 ** 20}","${8 * 1024}",null]`);
});
