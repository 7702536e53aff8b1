import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { RECIPES, type HttpCheck } from '../../src/cli/commands/new.samples';
import { tempDir } from '../support/app';
import { CLI, ensureCliBuilt } from '../support/cli';
import { freePort, Proc, ROOT, waitHealthy } from '../support/processes';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

/**
 * `sidekick new` as a user runs it, in a temporary folder outside the repository, for every sample.
 *
 * - The default sample is created the full way: `sidekick new hello --prefer-offline` packs this
 *   Sidekick into the project (`file:sidekick-core-<version>.tgz`), runs `npm install` with progress,
 *   and `npx sidekick` works from the project's install.
 * - The other samples are created with `--skip-install --framework file:<that tarball>` next to it,
 *   and resolve their packages through a `node_modules` link in the parent folder to hello's install
 *   (Node and tsc look up the folder tree). An `npm install` per sample took ~25 s each here (2 cores,
 *   warm npm cache), seven of them past the 3-minute budget; all the samples declare the same
 *   dependencies, which the spec checks are in that install.
 * - Every project: `npm test` (build + the generated smoke test; two projects at a time) passes, and `npm start` runs on the
 *   embedded defaults with no service: its HTTP endpoints answer (the sample's checks), and SIGINT to
 *   its process group (Ctrl-C in a terminal) ends npm and the app with exit code 0.
 *
 * As in sample-copy-out.spec.ts, better-sqlite3's install is handed the binary the repository already
 * has (prebuild-install's local-prebuilds folder), so no download or compile is needed.
 */

jest.setTimeout(240_000);

const SAMPLES = Object.keys(RECIPES);
const cleanup: string[] = [];
let parent = '';
let tarball = '';
const projects = new Map<string, string>();

function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== 'INIT_CWD' && !name.startsWith('SIDEKICK_') && name !== 'REDIS_HOST' && name !== 'PORT') env[name] = value;
  }
  return { ...env, ...extra };
}

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
  timeoutMs = 200_000,
): Promise<{ code: number; out: string }> {
  return new Promise((ok) => {
    execFile(command, args, { cwd, env: userEnv(env), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      ok({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

async function localPrebuilds(): Promise<Record<string, string>> {
  const pkg = join(ROOT, 'node_modules/better-sqlite3');
  if (!existsSync(join(pkg, 'build/Release/better_sqlite3.node'))) return {};
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string };
  const dir = tempDir('sidekick-new-prebuilds-');
  cleanup.push(dir);
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await run('tar', ['czf', join(dir, name), 'build/Release/better_sqlite3.node'], pkg);
  return { npm_config_better_sqlite3_local_prebuilds: dir };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One of the sample's HTTP checks; `eventually` ones are asked again for up to 30 s. */
async function expectCheck(check: HttpCheck, base: { app: string; dapr: string }, proc: Proc): Promise<void> {
  const deadline = Date.now() + (check.eventually ? 30_000 : 0);
  for (;;) {
    const res = await fetch(base[check.to] + check.path, {
      method: check.method,
      headers: check.body === undefined ? {} : { 'content-type': 'application/json' },
      body: check.body === undefined ? undefined : JSON.stringify(check.body),
    });
    const text = await res.text();
    if (res.status === check.status && (!check.contains || text.includes(check.contains))) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `${check.method} ${check.path} (${check.to}) answered ${res.status} ${text}; expected ${check.status} ${check.contains ?? ''}\n${proc.describe()}`,
      );
    }
    await sleep(250);
  }
}

/** Waits until no process of the group `pgid` is left (kill -0 answers ESRCH). */
async function groupGone(pgid: number, proc: Proc): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`a process of npm start's group is still running 30 s after Ctrl-C\n${proc.describe()}`);
    await sleep(100);
  }
}

/**
 * Each sample generated (all but hello, already there) and its `npm test` run, two at a time: the
 * TypeScript build of each project is most of the spec's time. Every sample's first test awaits its own.
 */
const testedProjects = new Map<string, Promise<{ created: { code: number; out: string }; tested: { code: number; out: string } }>>();

function generatedAndTested(sample: string): Promise<{ created: { code: number; out: string }; tested: { code: number; out: string } }> {
  if (testedProjects.size === 0) {
    const lanes = [Promise.resolve(), Promise.resolve()];
    SAMPLES.forEach((name, i) => {
      const lane = i % lanes.length;
      const done = lanes[lane]!.then(async () => {
        let created = { code: 0, out: '' };
        if (!projects.has(name)) {
          created = await run(process.execPath, [CLI, 'new', name, '--sample', name, '--skip-install', '--framework', `file:${tarball}`], parent);
          if (created.code !== 0) return { created, tested: { code: 1, out: 'not generated' } };
          projects.set(name, join(parent, name));
        }
        return { created, tested: await run('npm', ['test'], projects.get(name)!) };
      });
      lanes[lane] = done.then(() => undefined);
      testedProjects.set(name, done);
    });
  }
  return testedProjects.get(sample)!;
}

beforeAll(async () => {
  await ensureCliBuilt();
  parent = tempDir('sidekick-new-');
  cleanup.push(parent);
}, 200_000);

afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

test('sidekick new hello: created outside the repository, the framework packed in, installed with progress; npx sidekick works there', async () => {
  expect(relative(ROOT, parent).startsWith('..')).toBe(true);
  const created = await run(process.execPath, [CLI, 'new', 'hello', '--prefer-offline'], parent, await localPrebuilds());
  expect(created.out).toContain('Packing @sidekick/core');
  expect(created.out).toContain('Installing dependencies (npm install)...');
  expect(created.out).toMatch(/added \d+ packages/); // npm's own progress and summary, shown as it runs
  expect(created.code).toBe(0);
  expect(created.out).toContain('Next:\n  cd hello\n  npm run build && npm start');
  const dir = join(parent, 'hello');
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; scripts: Record<string, string> };
  expect(pkg.dependencies['@sidekick/core']).toBe('file:sidekick-core-0.1.0.tgz');
  tarball = join(dir, 'sidekick-core-0.1.0.tgz');
  expect(existsSync(tarball)).toBe(true);
  expect(existsSync(join(dir, 'node_modules/@sidekick/core/dist/src/index.js'))).toBe(true);
  expect(existsSync(join(dir, 'node_modules/.bin/sidekick'))).toBe(true); // the package's bin: npx sidekick works in the project
  projects.set('01-hello-world', dir);
  symlinkSync(join(dir, 'node_modules'), join(parent, 'node_modules'), 'dir');

  const listed = await run('npx', ['--no-install', 'sidekick', 'new', '--list'], dir);
  expect(listed.code).toBe(0);
  const lines = listed.out.trim().split('\n');
  expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(SAMPLES);
  for (const line of lines) expect(line.split(/\s+/).length).toBeGreaterThan(3); // a name and a one-line summary
});

test('bad input: a folder that is not empty, an unknown sample, no folder: one line each and exit code 1', async () => {
  const notEmpty = await run(process.execPath, [CLI, 'new', 'hello', '--skip-install'], parent);
  expect(notEmpty.code).toBe(1);
  expect(notEmpty.out).toMatch(/hello exists and is not empty: choose a new folder/);
  const unknown = await run(process.execPath, [CLI, 'new', 'x', '--sample', '99-nope', '--skip-install'], parent);
  expect(unknown.code).toBe(1);
  expect(unknown.out).toContain('no sample "99-nope": choose one of 01-hello-world, 02-pubsub');
  const none = await run(process.execPath, [CLI, 'new'], parent);
  expect(none.code).toBe(1);
  expect(none.out).toContain('name the folder to create');
});

describe.each(SAMPLES)('%s', (sample) => {
  const recipe = RECIPES[sample]!;

  test('generated (components laid out, the framework a real dependency), then npm test passes without services', async () => {
    expect(tarball).not.toBe('');
    const { created, tested } = await generatedAndTested(sample);
    expect([created.code, created.out]).toEqual([0, created.out]);
    const dir = projects.get(sample)!;
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(pkg.dependencies['@sidekick/core']).toMatch(/^file:.*sidekick-core-0\.1\.0\.tgz$/);
    expect(pkg.scripts['start']).toBe(recipe.start);
    for (const name of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]) {
      expect([name, existsSync(join(parent, 'node_modules', name, 'package.json'))]).toEqual([name, true]);
    }
    for (const file of Object.keys(recipe.embedded)) expect(existsSync(join(dir, 'components', file))).toBe(true);
    for (const backend of recipe.backends)
      for (const file of backend.files) expect(existsSync(join(dir, 'components', backend.folder, file.split('/').pop()!))).toBe(true);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toContain('## What needs a real service');
    for (const limit of recipe.limits) expect(readme).toContain(limit);

    expect(tested.out).toMatch(/# pass 1\b/);
    expect(tested.out).toMatch(/# fail 0\b/);
    expect(tested.code).toBe(0);
  });

  test('npm start: runs on the embedded defaults, answers over HTTP, and Ctrl-C (SIGINT) stops npm and the app, which drains and exits', async () => {
    const dir = projects.get(sample);
    expect(dir).toBeDefined();
    const [port, apiPort] = [await freePort(), await freePort()];
    const scratch = tempDir('sidekick-new-run-');
    cleanup.push(scratch);
    const env = userEnv({
      ...recipe.testEnv,
      PORT: String(port),
      SIDEKICK_HTTP_PORT: String(apiPort),
      SIDEKICK_METRICS_PORT: '0',
      SIDEKICK_DATA_DIR: join(scratch, 'data'),
      SIDEKICK_REGISTRY_DIR: join(scratch, 'registry'),
    });
    // Its own process group, as a terminal starts it: SIGINT goes to npm and the app together.
    const proc = new Proc(`npm start (${sample})`, spawn('npm', ['start'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
    const base = { app: `http://127.0.0.1:${port}`, dapr: `http://127.0.0.1:${apiPort}` };
    try {
      await waitHealthy(proc, base.dapr, 60_000);
      for (const check of recipe.checks) await expectCheck(check, base, proc);
      for (const line of recipe.logs) await proc.waitFor(`"${line}"`, () => proc.out.includes(line), 30_000);
    } finally {
      if (proc.running && proc.child.pid !== undefined) process.kill(-proc.child.pid, 'SIGINT');
    }
    const exit = await proc.waitExit(30_000);
    // npm on Ctrl-C: it waits for its script's shell, then ends itself by the same signal (status 130 in a terminal).
    expect([exit, proc.describe()]).toEqual([{ code: null, signal: 'SIGINT' }, proc.describe()]);
    // The app drains and exits by itself: nothing of the process group is left. (Its own exit code, 0 on
    // SIGINT, is not visible through npm and its shell: the generated smoke test asserts it, on the same file.)
    await groupGone(proc.child.pid!, proc);
    expect(proc.out).toContain('drained: every in-flight handler and request finished');
  });
});

test("npm run start:redis (01): the sample's own components, kept in components/redis, store the order in Redis", async () => {
  await requireRedis();
  const dir = projects.get('01-hello-world');
  expect(dir).toBeDefined();
  const file = join(dir!, 'components/redis/redis.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('127.0.0.1:6379', redisHostPort()));
  const appId = `new14-${process.pid}-${Date.now()}`;
  const [port, apiPort] = [await freePort(), await freePort()];
  const scratch = tempDir('sidekick-new-redis-');
  cleanup.push(scratch);
  const env = userEnv({
    REDIS_PASSWORD: '',
    SIDEKICK_APP_ID: appId,
    PORT: String(port),
    SIDEKICK_HTTP_PORT: String(apiPort),
    SIDEKICK_METRICS_PORT: '0',
    SIDEKICK_DATA_DIR: join(scratch, 'data'),
    SIDEKICK_REGISTRY_DIR: join(scratch, 'registry'),
  });
  const proc = new Proc('npm run start:redis', spawn('npm', ['run', 'start:redis'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
  const redis = rawRedis();
  try {
    await waitHealthy(proc, `http://127.0.0.1:${apiPort}`, 60_000);
    const res = await fetch(`http://127.0.0.1:${port}/neworder`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: { orderId: 77 } }),
    });
    expect(res.status).toBe(200);
    expect(proc.out).toContain('type=state.redis source=components/redis/redis.yaml');
    await redis.connect();
    expect(JSON.parse((await redis.hget(`${appId}||order`, 'data')) ?? 'null')).toEqual({ orderId: 77 });
  } finally {
    if (proc.running && proc.child.pid !== undefined) process.kill(-proc.child.pid, 'SIGINT');
    await redis.del(`${appId}||order`).catch(() => undefined);
    redis.disconnect();
  }
  await proc.waitExit(30_000);
  await groupGone(proc.child.pid!, proc);
});

test('the generated smoke test fails, naming the component, when npm start cannot start on what components/ holds', async () => {
  const dir = projects.get('02-pubsub');
  expect(dir).toBeDefined();
  const file = join(dir!, 'components/pubsub.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('pubsub.in-memory', 'pubsub.nope'));
  const tested = await run('node', ['--test'], dir!);
  expect(tested.code).not.toBe(0);
  expect(tested.out).toMatch(/# fail 1\b/);
  expect(tested.out).toContain('the app did not become healthy');
  expect(tested.out).toContain('pubsub.nope');
});
