import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Running the compiled samples as a user does: each app its own Node process, with its output kept
 * for assertions and for the failure message.
 */

export const ROOT = resolve(__dirname, '../..');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `npm run build` when any of `outputs` is missing or older than a source it is compiled from
 * (src, libs, the samples' src, the tsconfigs). Jest workers of several sample specs may get here at
 * once: a lock folder lets one build while the others wait and then see fresh output.
 */
export async function ensureBuilt(outputs: readonly string[]): Promise<void> {
  if (isFresh(outputs)) return;
  const lock = join(tmpdir(), `sidekick-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}.lock`);
  const deadline = Date.now() + 175_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another worker builds; a lock older than a build can take was left by a killed run.
      if (lockAgeMs(lock) > 180_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited too long for the build lock ${lock}`);
      await sleep(250);
    }
  }
  try {
    if (isFresh(outputs)) return;
    await new Promise<void>((ok, fail) => {
      execFile('npm', ['run', 'build'], { cwd: ROOT, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) fail(new Error(`npm run build failed, so the sample cannot be run:\n${stdout}${stderr}`));
        else ok();
      });
    });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  const missing = outputs.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new Error(`npm run build succeeded but did not produce ${missing.join(', ')}`);
}

function lockAgeMs(lock: string): number {
  try {
    return Date.now() - statSync(lock).mtimeMs;
  } catch {
    return 0;
  }
}

function isFresh(outputs: readonly string[]): boolean {
  const built = Math.min(...outputs.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
  const samples = readdirSync(join(ROOT, 'samples'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(ROOT, 'samples', d.name, 'src')))
    .map((d) => join(ROOT, 'samples', d.name, 'src'));
  const newest = Math.max(
    ...[join(ROOT, 'src'), join(ROOT, 'libs'), ...samples].map(newestTs),
    ...['tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(join(ROOT, f)).mtimeMs),
  );
  return built >= newest;
}

function newestTs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestTs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Ports this test process has handed out: the kernel may offer a just-closed port again at the next bind(0). */
const handedOut = new Set<number>();

/** A loopback port free now and not handed out before by this process (two calls never return the same port). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((ok, fail) => {
      const server = createServer();
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => {
        const { port: taken } = server.address() as { port: number };
        server.close(() => ok(taken));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

const ANSI = /\x1b\[[0-9;]*m/g;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child process with its output kept (ANSI colours removed), and a promise of how it ended. */
export class Proc {
  out = '';
  err = '';
  readonly exited: Promise<Exit>;
  exit?: Exit;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (b: Buffer) => (this.out += b.toString('utf8').replace(ANSI, '')));
    child.stderr?.on('data', (b: Buffer) => (this.err += b.toString('utf8').replace(ANSI, '')));
    this.exited = new Promise((ok) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        ok(this.exit);
      }),
    );
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** SIGTERM, then SIGKILL if it is still running after 5 s. */
  async stop(): Promise<Exit> {
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the process to end by itself; SIGKILL and an error after `timeoutMs`. */
  async waitExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((ok) => (timer = setTimeout(() => ok('timeout'), timeoutMs)));
    try {
      const result = await Promise.race([this.exited, timeout]);
      if (result !== 'timeout') return result;
      this.child.kill('SIGKILL');
      await this.exited;
      throw new Error(`${this.name} did not exit within ${timeoutMs} ms\n${this.describe()}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every capture group 1 of `pattern` (global, multiline) in stdout. */
  matches(pattern: RegExp): string[] {
    return [...this.out.matchAll(pattern)].map((m) => m[1] ?? m[0]);
  }

  /** Polls until `done()` holds; fails early, with the output, if the process ends first. */
  async waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (!this.running) throw new Error(`${this.name} exited while waiting for ${what}\n${this.describe()}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`);
      await sleep(25);
    }
  }

  describe(): string {
    return `${this.name} exit=${JSON.stringify(this.exit ?? 'running')}\n--- stdout ---\n${this.out.slice(-6000)}\n--- stderr ---\n${this.err.slice(-4000)}`;
  }
}

/** Variables of the test's own environment that would change how a sample runs. */
const SAMPLE_SETTINGS = [
  'DAPR_API_TOKEN',
  'SIDEKICK_HTTP_HOST',
  'SIDEKICK_HTTP_PORT',
  'SIDEKICK_RESOURCES_PATH',
  'SIDEKICK_CONFIG',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'SIDEKICK_DATA_DIR',
  'SIDEKICK_REGISTRY_DIR',
  'SIDEKICK_LOG_LEVEL',
  'SIDEKICK_LOG_FORMAT',
  'HOST',
  'PORT',
  'NODE_OPTIONS',
  'ORDERS_TOPIC',
  'ORDER_COUNT',
  'ORDER_INTERVAL_MS',
  'PG_CONNECTION_STRING',
  'APP_ID',
  'FLAG_KEY',
  'JOB_DURATION_MS',
];

/** The environment a user's shell would have, minus anything that would change how the sample runs, plus `extra`. */
export function sampleEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of SAMPLE_SETTINGS) delete env[name];
  return { ...env, ...extra };
}

/** Starts `command args` (cwd {@link ROOT} unless given) with {@link sampleEnv}. */
export function startProcess(name: string, command: string, args: readonly string[], options: { cwd?: string; env: Record<string, string> }): Proc {
  const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: sampleEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  return new Proc(name, child);
}

/** Starts `node <mainJs>` with {@link sampleEnv}. */
export function startNode(name: string, mainJs: string, options: { cwd?: string; env: Record<string, string> }): Proc {
  return startProcess(name, process.execPath, [mainJs], options);
}

/** Waits for a Dapr HTTP API (`http://127.0.0.1:port`) to answer `/v1.0/healthz` with 204; stops the process and fails otherwise. */
export async function waitHealthy(proc: Proc, apiUrl: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`${proc.name} exited before it was healthy\n${proc.describe()}`);
    try {
      const res = await fetch(`${apiUrl}/v1.0/healthz`);
      if (res.status === 204) return;
      last = `HTTP ${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  await proc.stop();
  throw new Error(`${proc.name}'s /v1.0/healthz did not answer 204 within ${timeoutMs} ms (last: ${last})\n${proc.describe()}`);
}
