/**
 * The test `sidekick new` writes into a project (test/smoke.test.js, run by `npm test` with Node's
 * own test runner, no extra dependency): the app of `npm start` starts on embedded defaults (an
 * empty resources folder: SQLite state, in-memory pub/sub) on free ports, answers its Dapr health
 * check and metadata, and shuts down cleanly on SIGTERM.
 */
export const SMOKE_TEST = `// Written by \`sidekick new\`: the app starts on embedded defaults and stops cleanly.
const { test } = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const { mkdtempSync, readFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const root = join(__dirname, '..');
const start = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start;
const main = /^node\\s+(\\S+)/.exec(start)?.[1];

function freePort() {
  return new Promise((ok) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

test('the app starts on embedded defaults, serves the Dapr HTTP API and stops on SIGTERM', async () => {
  assert.ok(main, 'package.json scripts.start runs "node <file>"');
  const [port, apiPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    PORT: String(port),
    SIDEKICK_HTTP_PORT: String(apiPort),
    SIDEKICK_RESOURCES_PATH: mkdtempSync(join(tmpdir(), 'resources-')),
    SIDEKICK_DATA_DIR: mkdtempSync(join(tmpdir(), 'data-')),
    SIDEKICK_REGISTRY_DIR: mkdtempSync(join(tmpdir(), 'registry-')),
  };
  const app = spawn(process.execPath, [join(root, main)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  app.stdout.on('data', (b) => (output += b));
  app.stderr.on('data', (b) => (output += b));
  const exited = new Promise((ok) => app.once('exit', (code, signal) => ok({ code, signal })));
  try {
    const deadline = Date.now() + 30000;
    for (;;) {
      const res = await fetch('http://127.0.0.1:' + apiPort + '/v1.0/healthz').catch(() => undefined);
      if (res && res.status === 204) break;
      if (app.exitCode !== null || Date.now() > deadline) assert.fail('the app did not become healthy:\\n' + output);
      await new Promise((r) => setTimeout(r, 100));
    }
    const metadata = await (await fetch('http://127.0.0.1:' + apiPort + '/v1.0/metadata')).json();
    assert.ok(metadata.components.some((c) => c.name === 'statestore'), 'the embedded statestore is loaded');
  } finally {
    app.kill('SIGTERM');
  }
  const end = await exited;
  assert.ok(end.code === 0 || end.signal === 'SIGTERM', 'clean exit: ' + JSON.stringify(end) + '\\n' + output);
});
`;
