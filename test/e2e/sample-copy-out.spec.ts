import { execFile } from 'node:child_process';
import { cpSync, existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { tempDir } from '../support/app';
import { ensureBuilt, freePort, type Proc, ROOT, startNode, waitHealthy } from '../support/processes';

/**
 * README, "Use the sample outside this repository": the framework packed with `npm pack`, the sample
 * copied to a folder outside the repository, the tarball installed there with npm, then built and run.
 * Nothing resolves through the repository: a `file:` link or a missing file in the package fails here.
 *
 * One shortcut: better-sqlite3's install script first looks for a prebuilt binary (prebuild-install)
 * and compiles from source only when it finds none. Its download from GitHub fails on machines without
 * that access, and compiling takes about a minute. So the test hands prebuild-install the binary the
 * repository's own install already has, through prebuild-install's documented local-prebuilds folder
 * (`npm_config_better_sqlite3_local_prebuilds`). When the versions differ it compiles, as a user would.
 */

const SAMPLE = join(ROOT, 'samples/01-hello-world');
const BUILT = [join(ROOT, 'dist/src/index.js'), join(ROOT, 'dist/src/testing/index.js')];
/** Temp folders removed after the run. */
const cleanup: string[] = [];

interface Run {
  readonly stdout: string;
  readonly ms: number;
}

/** The environment of a user's shell: none of the npm_* variables `npm run`/`npx` put around jest (they name the repository). */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== 'INIT_CWD' && !name.startsWith('SIDEKICK_')) env[name] = value;
  }
  return { ...env, ...extra };
}

function run(command: string, args: readonly string[], cwd: string, extraEnv: Record<string, string> = {}, timeoutMs = 120_000): Promise<Run> {
  const started = Date.now();
  return new Promise((ok, fail) => {
    execFile(command, args, { cwd, env: userEnv(extraEnv), timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`${command} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${stdout}${stderr}`));
      else ok({ stdout, ms: Date.now() - started });
    });
  });
}

/** A prebuild-install tarball (`build/Release/better_sqlite3.node`) of the repository's own better-sqlite3, or undefined. */
async function localPrebuilds(): Promise<string | undefined> {
  const pkg = join(ROOT, 'node_modules/better-sqlite3');
  if (!existsSync(join(pkg, 'build/Release/better_sqlite3.node'))) return undefined;
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string };
  const dir = tempDir('sidekick-prebuilds-');
  cleanup.push(dir);
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await run('tar', ['czf', join(dir, name), 'build/Release/better_sqlite3.node'], pkg);
  return dir;
}

const timings: Record<string, number> = {};
let tarball: string;
let appDir: string;
let dataDir: string;
let nodeapp: Proc | undefined;
let appUrl: string;
let apiUrl: string;

beforeAll(async () => {
  const t0 = Date.now();
  await ensureBuilt(BUILT); // test-all builds before jest; this only builds a missing or stale dist
  timings['build'] = Date.now() - t0;

  const packDir = tempDir('sidekick-pack-');
  cleanup.push(packDir);
  const pack = await run('npm', ['pack', '--json', '--pack-destination', packDir], ROOT);
  const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string }>;
  if (!packed) throw new Error(`npm pack printed no file: ${pack.stdout}`);
  tarball = join(packDir, basename(packed.filename));
  timings['npm pack'] = pack.ms;

  const copyRoot = tempDir('sidekick-copy-out-');
  cleanup.push(copyRoot);
  appDir = join(copyRoot, 'hello-world');
  cpSync(SAMPLE, appDir, { recursive: true, filter: (src) => !/[\\/](node_modules|dist)$/.test(src) });
  // As the sample's README says: without ./components the app uses the embedded SQLite default.
  rmSync(join(appDir, 'components'), { recursive: true, force: true });

  const prebuilds = await localPrebuilds();
  const install = await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball],
    appDir,
    prebuilds ? { npm_config_better_sqlite3_local_prebuilds: prebuilds } : {},
    150_000,
  );
  timings['npm install'] = install.ms;
  timings['npm run build'] = (await run('npm', ['run', 'build'], appDir)).ms;

  const port = await freePort();
  const apiPort = await freePort();
  const dir = tempDir('sidekick-copy-out-run-');
  cleanup.push(dir);
  dataDir = join(dir, 'data');
  const started = Date.now();
  nodeapp = startNode('nodeapp (copied out)', join(appDir, 'dist/main.js'), {
    cwd: appDir,
    env: { PORT: String(port), SIDEKICK_HTTP_PORT: String(apiPort), SIDEKICK_DATA_DIR: dataDir, SIDEKICK_REGISTRY_DIR: join(dir, 'registry') },
  });
  appUrl = `http://127.0.0.1:${port}`;
  apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitHealthy(nodeapp, apiUrl, 20_000);
  timings['start'] = Date.now() - started;
  timings['total'] = Date.now() - t0;
  console.log(`sample copy-out timings (ms): ${JSON.stringify(timings)}`);
}, 240_000);

afterAll(async () => {
  await nodeapp?.stop();
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true }); // the copy's node_modules is ~100 MB
});

describe('samples/01-hello-world copied out of the repository, on the packed @sidekick/core', () => {
  it('the packed tarball holds the compiled framework, its libs and the testing entry, and no specs or sources', async () => {
    const files = (await run('tar', ['tzf', tarball], ROOT)).stdout.split('\n').filter(Boolean);
    for (const needed of [
      'package/package.json',
      'package/dist/src/index.js',
      'package/dist/src/index.d.ts',
      'package/dist/src/testing/index.js',
      'package/testing/package.json',
      'package/dist/libs/sqlite/index.js',
      'package/dist/libs/redis/index.js',
    ]) {
      expect(files).toContain(needed);
    }
    // The samples ship as sources (`sidekick new` copies them); nothing else does.
    expect(files.filter((f) => /\.spec\.|^package\/(src|libs|test)\/|\.ts$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith('package/samples/'))).toEqual([]);
  });

  it('lives outside the repository and loads @sidekick/core (and /testing) from its own node_modules, not through a link', async () => {
    expect(relative(ROOT, appDir).startsWith('..')).toBe(true);
    const manifest = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(manifest.dependencies['@sidekick/core']).toMatch(/^file:.*sidekick-core-.*\.tgz$/);
    const core = realpathSync(join(appDir, 'node_modules/@sidekick/core'));
    expect(core.startsWith(realpathSync(appDir) + sep)).toBe(true);
    // In a process of its own: jest's resolver would map the name to this repository's src.
    const probe =
      "const t = require('@sidekick/core/testing'); if (typeof t.startTestApp !== 'function') process.exit(2); process.stdout.write(require.resolve('@sidekick/core/testing'))";
    const testingEntry = (await run(process.execPath, ['-e', probe], appDir)).stdout;
    expect(realpathSync(testingEntry).startsWith(realpathSync(appDir) + sep)).toBe(true);
  });

  it('saves an order through its POST /neworder route and serves it from GET /v1.0/state/statestore/order', async () => {
    const save = await fetch(`${appUrl}/neworder`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: { orderId: 7 } }),
    });
    expect(save.status).toBe(200);
    const state = await fetch(`${apiUrl}/v1.0/state/statestore/order`);
    expect(state.status).toBe(200);
    expect(await state.json()).toEqual({ orderId: 7 });
    expect(existsSync(join(dataDir, 'state.db'))).toBe(true); // the embedded SQLite: better-sqlite3's native binary loaded
  });

  it('exits with code 0 and nothing on stderr on SIGTERM', async () => {
    const proc = nodeapp as Proc;
    const exit = await proc.stop();
    expect({ exit, stderr: proc.err }).toEqual({ exit: { code: 0, signal: null }, stderr: '' });
  }, 10_000);
});
