import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from './lib/http-client';
import { jsonValue, KEY_PREFIX, REDIS_HOST, REDIS_PORT, rawRedis, type RawRedis } from './lib/redis';
import { type Metric, printComparison, round } from './lib/report';
import { compare, envInt } from './lib/runner';
import { type BenchApp, startBenchApp } from './lib/sidekick-app';

const KEYS = 64;
const SIDECAR_MAIN = join(__dirname, '../src/cli/sidecar.main.js');
const BENCH_APP_MAIN = join(__dirname, 'fixtures/bench-app.main.js');

/**
 * Sidecar mode against in-process mode, in one run, on the same Redis and the same Nest app:
 * 1. state get: an app reading through the sidecar's HTTP API (GET /v1.0/state/statestore/{key} on
 *    the sidecar process) vs the app's in-process `SidekickClient.state().get()`;
 *    `sidecar.state.get.added_p50_ms` is the difference of the p50s.
 * 2. invoke to the app: GET /v1.0/invoke/bench/method/order on the sidecar (its app channel calls the
 *    Nest app's port over loopback) vs the same on the in-process app's HTTP API (dispatched into the
 *    app with no socket); `sidecar.invoke.p50_ratio_to_inprocess` is sidecar p50 over in-process p50.
 *    The invoked app runs in its own process (bench/fixtures/bench-app.main.ts) and this process is the
 *    caller, so both sides start one process away, as a real caller does.
 * A bare loopback round trip to another process (node:http answering fixed bytes) is the yardstick: the issue
 * asks the sidecar hop to cost no more than one such round trip. It is checked paired, in the same rounds:
 * the sidecar's call against the in-process call followed by one bare round trip
 * (`..._p50_ratio_to_inprocess_plus_rtt` <= 1, `..._excess_over_rtt_p50_ms` <= 0). Both sides run with
 * metrics off (the sidecar with `SIDEKICK_METRICS_ENABLED=false`, as `--enable-metrics=false`).
 */
export async function runSidecarBench(): Promise<Metric[]> {
  const ops = envInt('BENCH_SIDECAR_OPS', 2_000);
  const rounds = envInt('BENCH_SIDECAR_ROUNDS', 11);
  const warmup = envInt('BENCH_SIDECAR_WARMUP', 2_000);
  const dir = mkdtempSync(join(tmpdir(), 'sidekick-bench-sidecar-'));
  let bench: BenchApp | undefined;
  let raw: RawRedis | undefined;
  let sidecar: ChildProcess | undefined;
  let echo: ChildProcess | undefined;
  let appChild: ChildProcess | undefined;
  const clients: HttpClient[] = [];
  try {
    bench = await startBenchApp();
    raw = await rawRedis();
    const store = bench.client.state('statestore');
    const keys = Array.from({ length: KEYS }, (_, i) => `sidecar-${i}`);
    const value = jsonValue(1024);
    for (const key of keys) await store.save(key, value);

    // The app that is invoked runs in its own process: the caller (this process) reaches it through its
    // in-process Dapr HTTP API, or through the sidecar that forwards to its port, one process away either way.
    const target = await startAppProcess();
    appChild = target.child;
    const port = await freePort();
    sidecar = await startSidecar(dir, port, target.appUrl);
    const viaSidecar = new HttpClient(`http://127.0.0.1:${port}`);
    const inProcessApi = new HttpClient(target.apiUrl);
    const started = await startEcho();
    echo = started.child;
    const bare = new HttpClient(`http://127.0.0.1:${started.port}`);
    clients.push(viaSidecar, inProcessApi, bare);

    const first = await viaSidecar.get(`/v1.0/state/statestore/${keys[0] as string}`);
    if (JSON.stringify(JSON.parse(first.toString('utf8'))) !== JSON.stringify(await store.get(keys[0] as string))) {
      throw new Error('the sidecar and the in-process client read different values');
    }
    const invoked = await viaSidecar.get('/v1.0/invoke/bench/method/order');
    if (!invoked.equals(await inProcessApi.get('/v1.0/invoke/bench/method/order'))) throw new Error('invoke through the sidecar answers different bytes');

    const sidecarPid = sidecar.pid ?? 0;
    let cpu = sidecarCpuMs(sidecarPid);
    const stateGet = await compare(
      'state get: through the sidecar (HTTP API in its own process) vs in-process SidekickClient',
      { label: 'sidecar http', op: (i) => viaSidecar.get(`/v1.0/state/statestore/${keys[i % KEYS] as string}`) },
      { label: 'in-process', op: (i) => store.getBytes(keys[i % KEYS] as string) },
      { ops, concurrency: 1, rounds, warmup },
    );
    printComparison(stateGet);
    cpu = printCpu('state get', sidecarPid, cpu, warmup + ops * rounds);
    // The yardstick, paired in the same rounds: the sidecar's state get against the in-process
    // get followed by one bare loopback round trip. At or below 1.0x the hop costs no more than that trip.
    const stateHop = await compare(
      'state get: through the sidecar vs in-process get + one bare loopback HTTP round trip (same rounds)',
      { label: 'sidecar http', op: (i) => viaSidecar.get(`/v1.0/state/statestore/${keys[i % KEYS] as string}`) },
      { label: 'in-process + rtt', op: (i) => store.getBytes(keys[i % KEYS] as string).then(() => bare.get('/')) },
      { ops, concurrency: 1, rounds, warmup },
    );
    printComparison(stateHop);
    cpu = sidecarCpuMs(sidecarPid);
    const invoke = await compare(
      'invoke to the app: GET /v1.0/invoke/bench/method/order on the sidecar vs on the in-process HTTP API',
      { label: 'sidecar', op: () => viaSidecar.get('/v1.0/invoke/bench/method/order') },
      { label: 'in-process', op: () => inProcessApi.get('/v1.0/invoke/bench/method/order') },
      { ops, concurrency: 1, rounds, warmup },
    );
    printComparison(invoke);
    printCpu('invoke', sidecarPid, cpu, warmup + ops * rounds);
    const invokeHop = await compare(
      'invoke to the app: through the sidecar vs in-process + one bare loopback HTTP round trip (same rounds)',
      { label: 'sidecar', op: () => viaSidecar.get('/v1.0/invoke/bench/method/order') },
      { label: 'in-process + rtt', op: () => inProcessApi.get('/v1.0/invoke/bench/method/order').then(() => bare.get('/')) },
      { ops, concurrency: 1, rounds, warmup },
    );
    printComparison(invokeHop);
    const rtt = await compare(
      'one bare loopback HTTP round trip to another process (node:http, fixed bytes) vs the in-process state get',
      { label: 'bare round trip', op: () => bare.get('/') },
      { label: 'in-process', op: (i) => store.getBytes(keys[i % KEYS] as string) },
      { ops, concurrency: 1, rounds, warmup },
    );
    printComparison(rtt);

    await raw.del(...keys.map((k) => KEY_PREFIX + k));
    return [
      { id: 'sidecar.state.get.added_p50_ms', value: round(stateGet.paired.p50DiffMs, 4), unit: 'ms' },
      { id: 'sidecar.invoke.p50_ratio_to_inprocess', value: round(invoke.paired.p50), unit: 'x' },
      { id: 'sidecar.state.get.sidecar_p50_ms', value: round(stateGet.a.median.p50Ms, 4), unit: 'ms' },
      { id: 'sidecar.state.get.inprocess_p50_ms', value: round(stateGet.b.median.p50Ms, 4), unit: 'ms' },
      { id: 'sidecar.invoke.sidecar_p50_ms', value: round(invoke.a.median.p50Ms, 4), unit: 'ms' },
      { id: 'sidecar.invoke.inprocess_p50_ms', value: round(invoke.b.median.p50Ms, 4), unit: 'ms' },
      { id: 'sidecar.invoke.added_p50_ms', value: round(invoke.paired.p50DiffMs, 4), unit: 'ms' },
      { id: 'sidecar.loopback.rtt_p50_ms', value: round(rtt.a.median.p50Ms, 4), unit: 'ms' },
      { id: 'sidecar.state.get.p50_ratio_to_inprocess_plus_rtt', value: round(stateHop.paired.p50), unit: 'x' },
      { id: 'sidecar.state.get.excess_over_rtt_p50_ms', value: round(stateHop.paired.p50DiffMs, 4), unit: 'ms' },
      { id: 'sidecar.invoke.p50_ratio_to_inprocess_plus_rtt', value: round(invokeHop.paired.p50), unit: 'x' },
      { id: 'sidecar.invoke.excess_over_rtt_p50_ms', value: round(invokeHop.paired.p50DiffMs, 4), unit: 'ms' },
    ];
  } finally {
    for (const client of clients) await client.close().catch(() => undefined);
    await stop(echo);
    await stop(sidecar);
    await stop(appChild);
    if (raw) await raw.quit().catch(() => raw?.disconnect());
    if (bench) await bench.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The sidecar process `sidekick run` starts, with the bench's Redis state store and the Nest app as its app. */
async function startSidecar(dir: string, port: number, appUrl: string): Promise<ChildProcess> {
  const resources = join(dir, 'components');
  mkdirSync(resources);
  writeFileSync(
    join(resources, 'statestore.yaml'),
    `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.redis\n  version: v1\n  metadata:\n    - name: redisHost\n      value: ${REDIS_HOST}:${REDIS_PORT}\n`,
  );
  const child = spawn(process.execPath, [SIDECAR_MAIN], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      SIDEKICK_APP_ID: 'bench',
      SIDEKICK_HTTP_PORT: String(port),
      SIDEKICK_RESOURCES_PATH: resources,
      SIDEKICK_DATA_DIR: dir,
      SIDEKICK_REGISTRY_DIR: join(dir, 'registry'),
      SIDEKICK_APP_CHANNEL_URL: appUrl,
      SIDEKICK_LOG_LEVEL: 'warn',
      // As the in-process bench app (startBenchApp): no Prometheus metrics, so both sides do the same work per call.
      SIDEKICK_METRICS_ENABLED: 'false',
    },
  });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the sidecar exited: ${err}`);
    const ok = await fetch(`http://127.0.0.1:${port}/v1.0/healthz`).then(
      (r) => r.status === 204,
      () => false,
    );
    // Invocations are forwarded once the app channel found the app: wait for a first answer.
    if (
      ok &&
      (await fetch(`http://127.0.0.1:${port}/v1.0/invoke/bench/method/order`).then(
        (r) => r.status === 200,
        () => false,
      ))
    )
      return child;
    if (Date.now() > deadline) throw new Error(`the sidecar was not ready within 30 s: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The sidecar process's CPU time so far (user + system, from /proc; 0 where there is none). */
function sidecarCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime (fields 14 and 15 of stat, 12 and 13 after the command) in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** Prints the sidecar's CPU per operation of its side since `before`; returns the new reading. */
function printCpu(what: string, pid: number, before: number, sidecarOps: number): number {
  const now = sidecarCpuMs(pid);
  if (now > 0) process.stdout.write(`  sidecar process CPU during ${what}: ${(((now - before) * 1000) / sidecarOps).toFixed(1)} us per operation through it\n`);
  return now;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** The bench's Nest app in its own process (bench/fixtures/bench-app.main.ts): its app port and its Dapr HTTP API. */
async function startAppProcess(): Promise<{ child: ChildProcess; appUrl: string; apiUrl: string }> {
  const child = spawn(process.execPath, [BENCH_APP_MAIN], { stdio: ['ignore', 'pipe', 'inherit'] });
  const urls = await new Promise<{ appUrl: string; apiUrl: string }>((resolve, reject) => {
    child.stdout?.once('data', (b: Buffer) => resolve(JSON.parse(b.toString('utf8').trim()) as { appUrl: string; apiUrl: string }));
    child.once('exit', () => reject(new Error('the bench app process exited')));
  });
  return { child, ...urls };
}

/**
 * The yardstick: a bare node:http server answering fixed bytes, in its own process like the sidecar
 * (a round trip to another process, not to a server sharing the client's event loop).
 */
async function startEcho(): Promise<{ child: ChildProcess; port: number }> {
  const code = `
    const body = Buffer.from('{"orderId":42,"status":"shipped"}');
    const server = require('node:http').createServer({ keepAliveTimeout: 65000 }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (b: Buffer) => resolve(Number(b.toString('utf8').trim())));
    child.once('exit', () => reject(new Error('the echo server exited')));
  });
  return { child, port };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

if (require.main === module) {
  runSidecarBench()
    .then((metrics) => console.table(metrics))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
