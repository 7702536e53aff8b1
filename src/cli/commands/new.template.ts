import type { SampleRecipe } from './new.samples';

/**
 * The test `sidekick new` writes into a project (test/smoke.test.js, run by `npm test` with Node's
 * own test runner, no extra dependency): the app of `npm start` starts on the embedded defaults
 * (`./components`, with the variables that pick a real backend unset) on free ports, answers the
 * sample's own HTTP requests and its Dapr health check, prints what it should, and exits with code 0
 * on SIGINT (Ctrl-C).
 */
export function smokeTest(recipe: SampleRecipe): string {
  const settings = { checks: recipe.checks, logs: recipe.logs, testEnv: recipe.testEnv, selectors: recipe.selectors };
  return `// Written by \`sidekick new\`: the app of \`npm start\` runs on the embedded defaults and stops cleanly.
const { test } = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const { checks, logs, testEnv, selectors } = ${JSON.stringify(settings, null, 2)};

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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('npm start: the app runs on the embedded defaults, answers, and exits with code 0 on SIGINT', async () => {
  assert.ok(main, 'package.json scripts.start runs "node <file>"');
  const [port, apiPort] = [await freePort(), await freePort()];
  const scratch = mkdtempSync(join(tmpdir(), 'sidekick-smoke-'));
  const env = { ...process.env, ...testEnv };
  for (const name of selectors) delete env[name];
  Object.assign(env, {
    PORT: String(port),
    SIDEKICK_HTTP_PORT: String(apiPort),
    SIDEKICK_METRICS_PORT: '0',
    SIDEKICK_DATA_DIR: join(scratch, 'data'),
    SIDEKICK_REGISTRY_DIR: join(scratch, 'registry'),
  });
  const app = spawn(process.execPath, [join(root, main)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  app.stdout.on('data', (b) => (output += b));
  app.stderr.on('data', (b) => (output += b));
  const exited = new Promise((ok) => app.once('exit', (code, signal) => ok({ code, signal })));
  const base = { app: 'http://127.0.0.1:' + port, dapr: 'http://127.0.0.1:' + apiPort };
  try {
    const deadline = Date.now() + 30000;
    for (;;) {
      const res = await fetch(base.dapr + '/v1.0/healthz').catch(() => undefined);
      if (res && res.status === 204) break;
      if (app.exitCode !== null || Date.now() > deadline) assert.fail('the app did not become healthy:\\n' + output);
      await sleep(100);
    }
    for (const check of checks) {
      const what = check.method + ' ' + check.path + ' (' + check.to + ')';
      const until = Date.now() + (check.eventually ? 30000 : 0);
      for (;;) {
        const res = await fetch(base[check.to] + check.path, {
          method: check.method,
          headers: check.body === undefined ? {} : { 'content-type': 'application/json' },
          body: check.body === undefined ? undefined : JSON.stringify(check.body),
        });
        const text = await res.text();
        const ok = res.status === check.status && (!check.contains || text.includes(check.contains));
        if (ok) break;
        if (Date.now() >= until) assert.fail(what + ' answered ' + res.status + ' ' + text + '; expected ' + check.status + ' with ' + (check.contains ?? 'any body') + '\\n' + output);
        await sleep(250);
      }
    }
    for (const line of logs) {
      const until = Date.now() + 30000;
      while (!output.includes(line)) {
        if (Date.now() >= until) assert.fail('the app did not print "' + line + '":\\n' + output);
        await sleep(100);
      }
    }
  } finally {
    app.kill('SIGINT');
  }
  const end = await exited;
  rmSync(scratch, { recursive: true, force: true });
  assert.deepStrictEqual(end, { code: 0, signal: null }, 'exit code 0 on SIGINT\\n' + output);
});
`;
}

/** The project's README.md: how to run it, what runs on the embedded defaults, what needs services. */
export function projectReadme(input: {
  readonly project: string;
  readonly sample: string;
  readonly summary: string;
  readonly framework: string;
  readonly recipe: SampleRecipe;
}): string {
  const { project, sample, summary, framework, recipe } = input;
  const scripts = Object.entries(recipe.scripts)
    .map(([name, command]) => `| \`npm run ${name}\` | \`${command}\` |`)
    .join('\n');
  const backends = recipe.backends.map((b) => `- \`components/${b.folder}/\`: ${b.needs}.`).join('\n');
  const limits = recipe.limits.length > 0 ? recipe.limits.map((l) => `- ${l}`).join('\n') : '- Nothing: the whole sample runs on the embedded defaults.';
  return `# ${project}

Made by \`sidekick new --sample ${sample}\`: ${summary} The sample's own README is [SAMPLE.md](SAMPLE.md)
(its commands are written for the Sidekick repository: \`node dist/samples/${sample}/src/x.js\` there is
\`node dist/x.js\` here).

## Run it

\`\`\`sh
npm install        # already done unless you used --skip-install
npm test           # builds, then the smoke test: the app of npm start, on the embedded defaults
npm run build && npm start
\`\`\`

\`npm start\` needs no service: ${recipe.runs}. Ctrl-C stops it (exit code 0).

## Components

\`components/\` is the default resources path, so it holds what \`npm start\` uses: the embedded
defaults (when no state store is configured, \`statestore\` is SQLite in \`.sidekick/state.db\`; when no
pub/sub is, \`pubsub\` is in memory) and the in-memory or in-process components written there.
The sample's components for real services are in sub-folders, used only when
\`SIDEKICK_RESOURCES_PATH\` names one:

${backends || '- none: the sample uses no service.'}

| script | runs |
|---|---|
| \`npm start\` | \`${recipe.start}\` |
${scripts}

(The scripts set variables the POSIX way; in Windows' cmd, set them first.)

## What needs a real service

${limits}

## The framework

\`@sidekick/core\` is a real dependency: \`${framework}\`${/^file:sidekick-core-[^/\\]+\.tgz$/.test(framework) ? ' (the Sidekick that made this project, packed with `npm pack` into this folder: it is not on a registry; keep the file with the project, or replace the spec with a registry version once there is one)' : ''}.
\`npx sidekick --help\` lists the CLI's commands (\`sidekick run\`, \`invoke\`, \`publish\`, ...).
`;
}
