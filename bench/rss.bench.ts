import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpClient } from './lib/http-client';
import { jsonValue } from './lib/redis';
import type { Metric } from './lib/report';
import { envInt, untimed } from './lib/runner';

const IDLE_MS = 2000;

/** A port nobody listens on right now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** `VmRSS` / `VmHWM` of a process, in MiB. */
function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]);
  };
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

async function waitHealthy(api: HttpClient, child: ChildProcess, stderr: () => string, timeoutMs = 30_000, pollMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hello-world exited with ${child.exitCode}: ${stderr()}`);
    try {
      await api.get('/v1.0/healthz', 204);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`hello-world not healthy after ${timeoutMs} ms (${String(err)}): ${stderr()}`);
      await sleep(pollMs);
    }
  }
}

interface Launched {
  readonly child: ChildProcess;
  readonly api: HttpClient;
  readonly stderr: () => string;
  /** Stops the app and removes its temp cwd. */
  close(): Promise<void>;
}

/** Starts the compiled hello-world on its embedded defaults: a temp cwd, nothing from the caller's environment. */
async function launch(projectRoot: string): Promise<Launched> {
  const main = join(projectRoot, 'dist/samples/01-hello-world/src/main.js');
  const cwd = mkdtempSync(join(tmpdir(), 'sidekick-bench-rss-'));
  const [appPort, apiPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['SIDEKICK_RESOURCES_PATH', 'SIDEKICK_DATA_DIR', 'SIDEKICK_HTTP_HOST', 'DAPR_API_TOKEN', 'NODE_OPTIONS', 'HOST']) delete env[name];
  const child = spawn(process.execPath, [main], {
    cwd,
    env: { ...env, PORT: String(appPort), SIDEKICK_HTTP_PORT: String(apiPort), SIDEKICK_REGISTRY_DIR: join(cwd, 'registry') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000);
  });
  const api = new HttpClient(`http://127.0.0.1:${apiPort}`, 16);
  return {
    child,
    api,
    stderr: () => stderrTail,
    close: async () => {
      await api.close().catch(() => undefined);
      await stop(child);
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

/** Start-up: process spawn until /v1.0/healthz answers 204 (polled every 5 ms), median of `runs` starts. */
async function startupMs(projectRoot: string, runs: number): Promise<{ median: number; all: number[] }> {
  const all: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const app = await launch(projectRoot);
    try {
      await waitHealthy(app.api, app.child, app.stderr, 30_000, 5);
      all.push(Number(process.hrtime.bigint() - t0) / 1e6);
    } finally {
      await app.close();
    }
  }
  const sorted = [...all].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] as number, all };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * RSS of samples/01-hello-world (compiled) on its embedded defaults: a temp cwd, so there is no
 * ./components and the state store is SQLite under <cwd>/.sidekick. Idle after start-up, then after
 * 100 000 state operations (alternating save / get through its Dapr HTTP API, 16 callers).
 */
export async function runRssBench(projectRoot: string): Promise<Metric[]> {
  const totalOps = envInt('BENCH_RSS_OPS', 100_000);
  const startup = await startupMs(projectRoot, envInt('BENCH_STARTUP_RUNS', 5));
  process.stdout.write(
    `\nstart-up (samples/01-hello-world, spawn -> /v1.0/healthz 204): median ${startup.median.toFixed(0)} ms of ${startup.all.map((ms) => ms.toFixed(0)).join(' ')}\n`,
  );
  const app = await launch(projectRoot);
  const { child, api } = app;
  try {
    await waitHealthy(api, child, app.stderr);
    const metadata = JSON.parse((await api.get('/v1.0/metadata')).toString('utf8')) as { components: { name: string; type: string }[] };
    const store = metadata.components.find((c) => c.name === 'statestore');
    if (store?.type !== 'state.sqlite') throw new Error(`expected the embedded SQLite statestore, got ${JSON.stringify(metadata.components)}`);
    const pid = child.pid as number;
    await sleep(IDLE_MS);
    const idle = memoryOf(pid);

    const body = JSON.stringify([{ key: 'k', value: jsonValue(1024) }]);
    await api.postJson('/v1.0/state/statestore', body);
    const t0 = process.hrtime.bigint();
    await untimed((i) => (i % 2 === 0 ? api.postJson('/v1.0/state/statestore', body) : api.get('/v1.0/state/statestore/k')), totalOps, 16);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await sleep(IDLE_MS);
    const after = memoryOf(pid);
    process.stdout.write(
      `\nrss (samples/01-hello-world, embedded SQLite): idle ${idle.rssMb.toFixed(1)} MB; after ${totalOps} ops ` +
        `(${Math.round(totalOps / seconds)} ops/s, 16 callers) ${after.rssMb.toFixed(1)} MB; peak ${after.peakMb.toFixed(1)} MB\n`,
    );
    return [
      { id: 'rss.idle_mb', value: Math.round(idle.rssMb * 10) / 10, unit: 'MB' },
      { id: 'rss.after_100k_ops_mb', value: Math.round(after.rssMb * 10) / 10, unit: 'MB' },
      { id: 'rss.peak_mb', value: Math.round(after.peakMb * 10) / 10, unit: 'MB' },
      { id: 'rss.drive_ops_per_s', value: Math.round(totalOps / seconds), unit: 'ops/s' },
      { id: 'startup.hello_world_ms', value: Math.round(startup.median), unit: 'ms' },
    ];
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  runRssBench(resolve(__dirname, '../..'))
    .then((metrics) => console.table(metrics))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
