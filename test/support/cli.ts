import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from './app';
import { ensureBuilt, type Proc, ROOT, sampleEnv, startProcess } from './processes';

/** The compiled CLI, run as `node dist/src/cli/main.js ...` (what the package's `bin` points at). */
export const CLI = join(ROOT, 'dist/src/cli/main.js');
export const FIXTURES = join(ROOT, 'test/fixtures/sidecar');

export function ensureCliBuilt(): Promise<void> {
  return ensureBuilt([CLI, join(ROOT, 'dist/src/cli/sidecar.main.js')]);
}

/**
 * For a spec file that spawns `sidekick run`: builds the CLI once before its tests (after `before`,
 * e.g. a service check) and stops, after each test, every process the test pushed to the returned list.
 */
export function cliProcesses(before?: () => Promise<void>): Proc[] {
  const running: Proc[] = [];
  beforeAll(async () => {
    await before?.();
    await ensureCliBuilt();
  }, 200_000);
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
  });
  return running;
}

/** A private registry and data folder, so runs of other specs (and other users) never show up. */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { SIDEKICK_REGISTRY_DIR: tempDir('sidekick-cli-reg-'), SIDEKICK_DATA_DIR: tempDir('sidekick-cli-data-'), NO_COLOR: '1', ...extra };
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** One CLI command to its end, as a user types it. */
export function cli(args: readonly string[], env: Record<string, string>, cwd = ROOT, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((ok) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env: sampleEnv(env), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      ok({ code, stdout, stderr });
    });
  });
}

/** A long-running CLI command (`sidekick run ...`) with its output kept. */
export function startCli(name: string, args: readonly string[], env: Record<string, string>, cwd = FIXTURES): Proc {
  return startProcess(name, process.execPath, [CLI, ...args], { cwd, env });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value that passes `done`; fails with the last value after `timeoutMs`. */
export async function eventually<T>(what: string, fn: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 20_000, proc?: Proc): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let error: unknown;
  for (;;) {
    try {
      last = await fn();
      if (done(last)) return last;
    } catch (err) {
      error = err;
    }
    if (proc && !proc.running) throw new Error(`${proc.name} exited while waiting for ${what}\n${proc.describe()}`);
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)} ${error ? String(error) : ''}\n${proc?.describe() ?? ''}`);
    }
    await sleep(100);
  }
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  return (await res.json()) as T;
}

export async function post(url: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> {
  return fetch(url, { method: 'POST', body: JSON.stringify(body), headers });
}
