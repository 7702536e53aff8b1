import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tempDir } from '../support/app';
import { CLI, ensureCliBuilt } from '../support/cli';
import { ROOT } from '../support/processes';

/**
 * `sidekick new` as a user runs it, in a temporary folder outside the repository: the project is
 * created from the default sample, installed (npm install, the framework packed into the project),
 * and its own `npm test` passes (the app starts on embedded defaults and stops cleanly).
 *
 * As in sample-copy-out.spec.ts, better-sqlite3's install is handed the binary the repository already
 * has (prebuild-install's local-prebuilds folder), so no download or compile is needed.
 */

jest.setTimeout(300_000);

const cleanup: string[] = [];

function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== 'INIT_CWD' && !name.startsWith('SIDEKICK_')) env[name] = value;
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

beforeAll(async () => {
  await ensureCliBuilt();
}, 200_000);

afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

test('sidekick new hello: created outside the repository, installed with progress, and its npm test passes', async () => {
  const parent = tempDir('sidekick-new-');
  cleanup.push(parent);
  expect(relative(ROOT, parent).startsWith('..')).toBe(true);
  const created = await run(process.execPath, [CLI, 'new', 'hello'], parent, await localPrebuilds());
  expect(created.out).toContain('Installing dependencies (npm install)...');
  expect(created.code).toBe(0);
  expect(created.out).toContain('Next:\n  cd hello\n  npm run build && npm start');
  const dir = join(parent, 'hello');
  expect(existsSync(join(dir, 'node_modules/@sidekick/core/dist/src/index.js'))).toBe(true);
  expect(existsSync(join(dir, 'node_modules/.bin/sidekick'))).toBe(true); // the package's bin: npx sidekick works in the project

  const tested = await run('npm', ['test'], dir);
  expect(tested.out).toMatch(/# pass 1\b/);
  expect(tested.code).toBe(0);

  // npx sidekick, from the project's own install.
  const listed = await run('npx', ['--no-install', 'sidekick', 'new', '--list'], dir);
  expect(listed.code).toBe(0);
  expect(listed.out).toContain('01-hello-world');
});
