import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/app';
import { cli, cliEnv, ensureCliBuilt, startCli } from '../support/cli';
import { freePort, type Proc, ROOT } from '../support/processes';

/** Every `sidekick` command spawned as a user runs it: output and exit code. */

jest.setTimeout(120_000);

const COMMANDS = ['new', 'run', 'list', 'invoke', 'publish', 'components', 'stop', 'logs', 'services', 'services up', 'services down', 'services status'];

beforeAll(async () => {
  await ensureCliBuilt();
}, 200_000);

test.each(COMMANDS)('sidekick %s --help prints its usage with an example and exits 0', async (command) => {
  const res = await cli([...command.split(' '), '--help'], cliEnv());
  expect(res.code).toBe(0);
  expect(res.stdout).toContain(`Usage: sidekick ${command}`);
  expect(res.stdout).toMatch(/Examples?:\n {2}\$ sidekick /);
});

test('sidekick --help and --version', async () => {
  const help = await cli(['--help'], cliEnv());
  expect(help.code).toBe(0);
  for (const command of ['new', 'run', 'list', 'invoke', 'publish', 'components', 'stop', 'logs', 'services'])
    expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  const version = await cli(['--version'], cliEnv());
  expect(version).toEqual(
    expect.objectContaining({ code: 0, stdout: `${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n` }),
  );
});

test.each([
  [['frobnicate'], /error: unknown command 'frobnicate'/],
  [['run', '--app-id', 'x'], /^error: no command to run: put it after --, e\.g\. sidekick run --app-id myapp -- python3 app\.py\n$/],
  [['run', '--', 'node', 'x.js'], /^error: --app-id is required: sidekick run --app-id myapp -- <command>\n$/],
  [
    ['run', '--app-id', 'x', '--app-protocol', 'grpc', '--', 'node', 'x.js'],
    /^error: app protocol "grpc" is not supported: Sidekick talks to apps over http \(use --app-protocol http\)\n$/,
  ],
  [['run', '--app-id', 'x', '--app-port', 'eighty', '--', 'node', 'x.js'], /^error: --app-port "eighty" is not a port number: use 1-65535\n$/],
  [
    ['run', '--app-id', 'x', '--resources-path', '/no/such/dir', '--', 'node', 'x.js'],
    /^error: resources path \/no\/such\/dir does not exist .*: create it or fix --resources-path\n$/,
  ],
  [['run', '--app-id', 'bad/id', '--', 'node', 'x.js'], /^error: app id "bad\/id" is invalid: use letters, digits/],
  [
    ['run', '--app-id', 'x', '--', 'no-such-command-xyz'],
    /^error: could not start "no-such-command-xyz" in .*: no-such-command-xyz was not found \(is it installed and on PATH\?\)\n$/,
  ],
  [
    ['invoke', '--app-id', 'nope', '--method', 'm'],
    /^error: no running app with id "nope": start it with sidekick run --app-id nope -- <command>, or see sidekick list\n$/,
  ],
  [['invoke', '--app-id', 'nope'], /error: required option '-m, --method <method>' not specified/],
  [['publish', '--publish-app-id', 'nope', '--pubsub', 'p', '--topic', 't', '--data', '{oops'], /^error: --data is not JSON: quote it/],
  [['stop', '--app-id', 'nope'], /^error: no running app with id "nope": see sidekick list\n$/],
  [['logs', '--app-id', 'nope'], /^error: no logs for app id "nope": logs are kept for apps started with sidekick run \(see sidekick list\)\n$/],
  [['list', '--output', 'xml'], /^error: --output "xml" is not one of table, json, yaml\n$/],
  [['new'], /^error: name the folder to create/],
  [['new', 'x', '--sample', '99-nothing'], /^error: no sample "99-nothing": choose one of 01-hello-world, 02-pubsub, 03-bindings/],
  [['services', 'up', 'mongo'], /^error: unknown service mongo: known services are redis, postgres, kafka/],
])('sidekick %j fails with one clear line and a non-zero exit', async (args, message) => {
  const res = await cli(args, cliEnv());
  expect(res.code).not.toBe(0);
  expect(res.stderr).toMatch(message);
  expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
});

test('an app that exits by itself ends sidekick run with its exit code', async () => {
  const res = await cli(['run', '--app-id', 'quitter', '--', 'node', '-e', "console.log('bye'); process.exit(3)"], cliEnv());
  expect(res.code).toBe(3);
  expect(res.stdout).toContain('== APP == bye');
  expect(res.stdout).toContain('"quitter" stopped: the app exited (code 3)');
});

test('a Dapr HTTP port already taken is one clear line', async () => {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as { port: number }).port;
  try {
    const res = await cli(['run', '--app-id', 'clash', '--dapr-http-port', String(port), '--', 'node', '-e', '1'], cliEnv());
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      new RegExp(
        `^error: the Sidekick sidecar of "clash" exited before it was ready: .*EADDRINUSE.*: port ${port} is taken, choose another --dapr-http-port \\(or daprHTTPPort\\)\n$`,
      ),
    );
  } finally {
    server.close();
  }
});

test('--config hands a Dapr Configuration file to the sidecar (SIDEKICK_CONFIG): loaded, or one line saying what is wrong', async () => {
  const dir = tempDir('sidekick-cli-config-');
  const head = 'apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: appconfig\nspec:\n  tracing:\n';
  writeFileSync(join(dir, 'good.yaml'), `${head}    samplingRate: "1"\n`);
  writeFileSync(join(dir, 'bad.yaml'), `${head}    samplingRate: 5\n`);
  const good = await cli(['run', '--app-id', 'cfg', '--config', join(dir, 'good.yaml'), '--', 'node', '-e', '1'], cliEnv());
  expect(good.code).toBe(0);
  expect(good.stdout).toMatch(/Configuration loaded configuration=appconfig/);
  const bad = await cli(['run', '--app-id', 'cfg', '--config', join(dir, 'bad.yaml'), '--', 'node', '-e', '1'], cliEnv());
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(
    /^error: the Sidekick sidecar of "cfg" exited before it was ready: \S*bad\.yaml: Configuration: spec\.tracing\.samplingRate: .*\n$/,
  );
  const missing = await cli(['run', '--app-id', 'cfg', '--config', join(dir, 'none.yaml'), '--', 'node', '-e', '1'], cliEnv());
  expect(missing.stderr).toBe(`error: configuration file ${join(dir, 'none.yaml')} does not exist: fix --config (or configFilePath)\n`);
});

test('sidekick list with nothing running', async () => {
  const env = cliEnv();
  expect(await cli(['list'], env)).toEqual(
    expect.objectContaining({ code: 0, stdout: 'No Sidekick apps are running. Start one with: sidekick run --app-id myapp -- <command>\n' }),
  );
  expect(await cli(['list', '-o', 'json'], env)).toEqual(expect.objectContaining({ code: 0, stdout: '[]\n' }));
  expect(await cli(['list', '-o', 'yaml'], env)).toEqual(expect.objectContaining({ code: 0, stdout: '[]\n' }));
});

describe('a Sidekick app (the hello-world sample) under sidekick run: no sidecar, the settings as environment', () => {
  let run: Proc;
  let env: Record<string, string>;
  let appPort: number;
  let httpPort: number;

  beforeAll(async () => {
    env = cliEnv();
    [appPort, httpPort] = [await freePort(), await freePort()];
    const resources = tempDir('sidekick-cli-hello-');
    run = startCli(
      'sidekick run (hello-world)',
      [
        'run',
        '--app-id',
        'hello',
        '--app-port',
        String(appPort),
        '--dapr-http-port',
        String(httpPort),
        '--resources-path',
        resources,
        '--',
        'node',
        '../../dist/samples/01-hello-world/src/main.js',
      ],
      env,
      join(ROOT, 'samples/01-hello-world'),
    );
    await run.waitFor('the app to listen', () => run.out.includes('nodeapp listening on'), 60_000);
  });

  afterAll(async () => {
    await run.stop();
  });

  test('it starts the command directly with SIDEKICK_APP_ID, SIDEKICK_HTTP_PORT, SIDEKICK_RESOURCES_PATH and PORT', () => {
    expect(run.out).toContain(`Starting "hello" as a Sidekick app (its package.json depends on @sidekick/core): Dapr HTTP API on http://127.0.0.1:${httpPort}`);
    expect(run.out).toContain(`== APP == `);
    expect(run.out).toContain(`nodeapp listening on http://127.0.0.1:${appPort} (Dapr HTTP API on http://127.0.0.1:${httpPort})`);
    expect(run.out).not.toContain('the app is ready'); // no sidecar
  });

  test('invoke, list, components and logs reach it by the app id given to run', async () => {
    const saved = await cli(['invoke', '--app-id', 'hello', '--method', 'neworder', '--data', '{"data":{"orderId":42}}'], env);
    expect(saved.code).toBe(0);
    const got = await cli(['invoke', '-a', 'hello', '-m', 'order', '--verb', 'GET'], env);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toEqual({ orderId: 42 });

    const list = JSON.parse((await cli(['list', '-o', 'json'], env)).stdout) as { appId: string; httpPort: number; appPort: number; command: string }[];
    expect(list).toEqual([expect.objectContaining({ appId: 'hello', httpPort, appPort, command: 'node ../../dist/samples/01-hello-world/src/main.js' })]);

    const components = await cli(['components', '-o', 'json'], env);
    expect(JSON.parse(components.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ appId: 'hello', name: 'statestore', type: 'state.sqlite' })]),
    );

    const dataFile = join(tempDir('sidekick-cli-data-file-'), 'order.json');
    writeFileSync(dataFile, '{"data":{"orderId":43}}');
    expect((await cli(['invoke', '--app-id', 'hello', '--method', 'neworder', '--data-file', dataFile], env)).code).toBe(0);
    expect(JSON.parse((await cli(['invoke', '-a', 'hello', '-m', 'order', '--verb', 'GET'], env)).stdout)).toEqual({ orderId: 43 });
    const published = await cli(['publish', '-i', 'hello', '-p', 'pubsub', '-t', 'orders', '-d', '{"orderId":1}', '--metadata', '{"ttlInSeconds":"60"}'], env);
    expect(published).toEqual(expect.objectContaining({ code: 0, stdout: 'Event published successfully\n' }));
    const unknownPubsub = await cli(['publish', '-i', 'hello', '-p', 'nope', '-t', 'orders', '-d', '{}'], env);
    expect(unknownPubsub.code).toBe(1);
    expect(unknownPubsub.stderr).toMatch(/^error: publishing to nope\/orders failed: status 404: .*ERR_PUBSUB_NOT_FOUND/);

    const logs = await cli(['logs', '--app-id', 'hello'], env);
    expect(logs.stdout).toContain('nodeapp listening on');
    const sidecarLog = await cli(['logs', '--app-id', 'hello', '--sidecar'], env);
    expect(sidecarLog.code).toBe(1);
    expect(sidecarLog.stderr).toBe('error: "hello" ran without a sidecar: no sidecar log\n');
  });

  test('sidekick stop drains it and sidekick run exits 0', async () => {
    const stopped = await cli(['stop', '--app-id', 'hello'], env);
    expect(stopped).toEqual(expect.objectContaining({ code: 0, stdout: 'App "hello" stopped\n' }));
    expect(stopped.stderr).toContain('Stopping "hello"');
    expect((await run.waitExit(20_000)).code).toBe(0);
    expect(run.out).toContain('SIGTERM received: stopping hello');
  });
});

test('sidekick new --list lists the samples, one line each', async () => {
  const res = await cli(['new', '--list'], cliEnv());
  expect(res.code).toBe(0);
  const lines = res.stdout.trim().split('\n');
  const samples = readdirSync(join(__dirname, '../../samples'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d\d-/.test(d.name))
    .map((d) => d.name)
    .sort();
  expect(samples).toEqual(expect.arrayContaining(['01-hello-world', '02-pubsub', '03-bindings']));
  expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(samples);
  for (const line of lines) expect(line).toMatch(/^\d\d-\S+\s+\S.*$/);
});

test('sidekick new <dir> --skip-install: a standalone project depending on the packed framework', async () => {
  const parent = tempDir('sidekick-cli-new-');
  const res = await cli(['new', 'my-orders', '--sample', '02-pubsub', '--skip-install'], cliEnv(), parent, 120_000);
  expect(res.code).toBe(0);
  expect(res.stderr).toContain('Creating');
  expect(res.stderr).toContain('Packing @sidekick/core');
  expect(res.stdout).toContain('Next:\n  cd my-orders\n  npm install\n  npm run build && npm start');
  const dir = join(parent, 'my-orders');
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string> };
  expect(pkg.name).toBe('my-orders');
  expect(pkg.dependencies['@sidekick/core']).toMatch(/^file:sidekick-core-\d+\.\d+\.\d+\.tgz$/);
  expect(existsSync(join(dir, (pkg.dependencies['@sidekick/core'] ?? '').slice('file:'.length)))).toBe(true);
  for (const file of ['tsconfig.json', 'README.md', 'src', 'components']) expect(existsSync(join(dir, file))).toBe(true);
  expect(existsSync(join(dir, 'node_modules'))).toBe(false);
  const again = await cli(['new', 'my-orders', '--skip-install'], cliEnv(), parent);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/^error: .*my-orders exists and is not empty: choose a new folder\n$/);
});

test('sidekick services status reports the services scripts/services.sh knows', async () => {
  const res = await cli(['services', 'status', '-o', 'json'], cliEnv());
  expect(res.code).toBe(0);
  const rows = JSON.parse(res.stdout) as { name: string; port: number; up: boolean }[];
  expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(['redis', 'postgres', 'kafka']));
  expect(rows.find((r) => r.name === 'redis')?.up).toBe(true); // the suite runs with Redis up
});

test('sidekick services up leaves a running service alone; down stops only what the script started', async () => {
  // Redis is up for the suite: `up redis` reports it left alone. `down redis:1` names an instance the
  // script never started, so nothing is stopped (the shared services stay up).
  const up = await cli(['services', 'up', 'redis'], cliEnv());
  expect(up.code).toBe(0);
  // "left alone" when something else started it; CI's own `services up` records it as started by the script.
  expect(up.stdout).toMatch(/^redis: already running on 127\.0\.0\.1:\d+ \((left alone|started earlier by scripts\/services\.sh; 'down' stops it)\)$/m);
  const down = await cli(['services', 'down', 'redis:1'], cliEnv());
  expect(down.code).toBe(0);
  expect(down.stdout).not.toMatch(/stopped on/);
});
