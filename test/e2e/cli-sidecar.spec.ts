import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/app';
import { cli, cliEnv, cliProcesses, eventually, getJson, post, startCli } from '../support/cli';
import { freePort, type Proc } from '../support/processes';

/**
 * `sidekick run` in sidecar mode: apps written the way Dapr's quickstarts write them (test/fixtures/sidecar,
 * Express and standard-library Python, no Sidekick code) run unchanged behind a Sidekick sidecar in its
 * own process. Each test spawns the CLI as a user would and asserts what the apps receive and print.
 */

jest.setTimeout(120_000);

const running = cliProcesses();

function track(proc: Proc): Proc {
  running.push(proc);
  return proc;
}

interface Received {
  orders: unknown[];
  retried: unknown[];
  dropped: number;
  bulk: { n: number }[];
  headers: { contentType: string; pubsubname: string }[];
}

test('an Express subscriber: GET /dapr/subscribe (v1, v2 routes, bulk) is read, and deliveries, retries and drops follow its answers', async () => {
  const env = cliEnv();
  const [appPort, httpPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${httpPort}`;
  const run = track(
    startCli(
      'sidekick run (express subscriber)',
      ['run', '--app-id', 'subscriber', '--app-port', String(appPort), '--dapr-http-port', String(httpPort), '--', 'node', 'express-subscriber.js'],
      env,
    ),
  );
  await run.waitFor('the subscriptions', () => run.out.includes('topic=batch'), 60_000);
  expect(run.out).toContain(`Starting "subscriber" with a Sidekick sidecar: Dapr HTTP API on ${api}, app port ${appPort}`);
  expect(run.out).toContain('== APP == express subscriber listening on');

  expect((await post(`${api}/v1.0/publish/pubsub/orders`, { orderId: 1 })).status).toBe(204);
  await post(`${api}/v1.0/publish/pubsub/flaky`, { kind: 'retry' }); // 500, 500, then SUCCESS
  await post(`${api}/v1.0/publish/pubsub/flaky`, { kind: 'drop' }); // a v2 rule to /drop-me: DROP
  await post(`${api}/v1.0/publish/pubsub/gone`, { kind: 'gone' }); // the app answers 404: dropped with a warning
  for (const n of [1, 2, 3]) await post(`${api}/v1.0/publish/pubsub/batch`, { n });

  const received = await eventually(
    'the deliveries',
    () => getJson<Received>(`http://127.0.0.1:${appPort}/received`),
    (r) => r.orders.length === 1 && r.retried.length === 3 && r.dropped === 1 && r.bulk.length === 3,
    30_000,
    run,
  );
  expect(received.orders).toEqual([{ orderId: 1 }]);
  expect(received.headers).toEqual([{ contentType: 'application/cloudevents+json', pubsubname: 'pubsub' }]);
  expect(received.retried).toEqual([{ kind: 'retry' }, { kind: 'retry' }, { kind: 'retry' }]);
  expect(received.bulk.map((b) => b.n).sort()).toEqual([1, 2, 3]);
  await run.waitFor('the 404 warning', () => run.out.includes('/no-such-route answered 404'), 10_000);
  expect(run.out).toMatch(/WARN.*event handler failed.*\/retry-me answered 500/);
  expect(run.out).toMatch(/WARN.*event dropped by its handler.*\/drop-me answered DROP/);
  expect(run.out).toContain('== APP == Subscriber received: {"orderId":1}');
  const metadata = await getJson<{ id: string; extended: Record<string, string> }>(`${api}/v1.0/metadata`);
  expect(metadata.id).toBe('subscriber');
  expect(metadata.extended).toEqual(expect.objectContaining({ appCommand: 'node express-subscriber.js', cliPID: String(run.child.pid) }));

  // The other commands see it.
  const list = await cli(['list', '--output', 'json'], env);
  expect(list.code).toBe(0);
  const apps = JSON.parse(list.stdout) as { appId: string; httpPort: number; appPort: number; command: string; pid: number }[];
  expect(apps).toEqual([expect.objectContaining({ appId: 'subscriber', httpPort, appPort, command: 'node express-subscriber.js' })]);
  const table = await cli(['list'], env);
  expect(table.stdout).toMatch(/APP ID\s+HTTP PORT\s+APP PORT\s+PID\s+CLI PID\s+AGE\s+COMMAND/);
  expect(table.stdout).toMatch(new RegExp(`subscriber\\s+${httpPort}\\s+${appPort}\\s+\\d+\\s+\\d+\\s+\\d+s\\s+node express-subscriber.js`));

  const published = await cli(['publish', '--publish-app-id', 'subscriber', '--pubsub', 'pubsub', '--topic', 'orders', '--data', '{"orderId":2}'], env);
  expect(published).toEqual(expect.objectContaining({ code: 0, stdout: 'Event published successfully\n' }));
  await run.waitFor('the published order', () => run.out.includes('== APP == Subscriber received: {"orderId":2}'), 10_000);

  const components = await cli(['components', '--app-id', 'subscriber'], env);
  expect(components.code).toBe(0);
  expect(components.stdout).toMatch(/subscriber\s+pubsub\s+pubsub\.in-memory\s+v1/);

  const logs = await cli(['logs', '--app-id', 'subscriber'], env);
  expect(logs.code).toBe(0);
  expect(logs.stdout).toContain('Subscriber received: {"orderId":2}');
  expect(logs.stdout).not.toContain('== APP =='); // the log file holds the app's own lines

  // Ctrl-C stops the sidecar and the app.
  run.child.kill('SIGINT');
  const exit = await run.waitExit(30_000);
  expect(exit.code).toBe(0);
  expect(run.out).toContain('SIGINT received: stopping subscriber');
  expect(run.out).toContain('"subscriber" stopped: stopped');
  const after = await cli(['list', '--output', 'json'], env);
  expect(JSON.parse(after.stdout)).toEqual([]);
  expect(() => process.kill(apps[0]?.pid ?? 0, 0)).toThrow(); // the app process is gone
});

test('a standard-library Python subscriber receives each event, labelled as daprd labels it', async () => {
  const env = cliEnv();
  const [appPort, httpPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${httpPort}`;
  const run = track(
    startCli(
      'sidekick run (python subscriber)',
      ['run', '-a', 'pysub', '-p', String(appPort), '-H', String(httpPort), '--', 'python3', 'python-subscriber.py'],
      env,
    ),
  );
  await run.waitFor('the subscription', () => run.out.includes('subscribed pubsub=pubsub topic=orders'), 60_000);
  for (const orderId of [1, 2, 3]) expect((await post(`${api}/v1.0/publish/pubsub/orders`, { orderId })).status).toBe(204);
  const received = await eventually(
    'three orders',
    () => getJson<{ data: { orderId: number }; contentType: string }[]>(`http://127.0.0.1:${appPort}/received`),
    (r) => r.length === 3,
    20_000,
    run,
  );
  expect(received.map((r) => r.data.orderId).sort()).toEqual([1, 2, 3]);
  expect(new Set(received.map((r) => r.contentType))).toEqual(new Set(['application/cloudevents+json']));
  expect(run.out).toContain('== APP == Subscriber received: {"orderId": 2}');

  // POST /v1.0/shutdown stops the sidecar gracefully; sidekick run then stops the app and exits 0.
  expect((await fetch(`${api}/v1.0/shutdown`, { method: 'POST' })).status).toBe(204);
  const exit = await run.waitExit(30_000);
  expect(exit.code).toBe(0);
  expect(run.out).toContain('"pysub" stopped: the sidecar exited (signal SIGTERM)');
});

test("Dapr's JavaScript SDK subscriber (DaprServer from @dapr/dapr) runs unchanged behind the sidecar", async () => {
  const env = cliEnv();
  const [appPort, httpPort] = [await freePort(), await freePort()];
  const run = track(
    startCli(
      'sidekick run (sdk subscriber)',
      ['run', '--app-id', 'sdksub', '--app-port', String(appPort), '--dapr-http-port', String(httpPort), '--', 'node', 'sdk-subscriber.js'],
      env,
    ),
  );
  await run.waitFor('the subscription', () => run.out.includes('subscribed pubsub=pubsub topic=orders'), 60_000);
  expect(run.out).toContain('== APP == sdk subscriber started');
  expect((await post(`http://127.0.0.1:${httpPort}/v1.0/publish/pubsub/orders`, { orderId: 7 })).status).toBe(204);
  await run.waitFor('the order', () => run.out.includes('== APP == Subscriber received: {"orderId":7}'), 20_000);
  expect(run.err).not.toContain('MaxListenersExceededWarning');
  expect(run.out).not.toContain('MaxListenersExceededWarning');
});

test('a Python caller invokes an Express app through its sidecar by the dapr-app-id header; sidekick invoke calls it too', async () => {
  const env = cliEnv();
  const [appPort, targetHttp] = [await freePort(), await freePort()];
  const target = track(
    startCli(
      'sidekick run (express target)',
      [
        'run',
        '--app-id',
        'target',
        '--app-port',
        String(appPort),
        '--dapr-http-port',
        String(targetHttp),
        '--app-health-check-path',
        '/healthz',
        '--',
        'node',
        'express-target.js',
      ],
      env,
    ),
  );
  await target.waitFor('the app to be ready', () => target.out.includes('the app is ready'), 60_000);
  await eventually(
    'the target in the local registry',
    async () => JSON.parse((await cli(['list', '-o', 'json'], env)).stdout) as { appId: string; appPort: number }[],
    (apps) => apps.some((a) => a.appId === 'target' && a.appPort === appPort),
    20_000,
    target,
  );

  const caller = track(startCli('sidekick run (python caller)', ['run', '--app-id', 'caller', '--', 'python3', 'python-caller.py'], env));
  const exit = await caller.waitExit(60_000);
  expect(caller.out).toContain('Starting "caller" with a Sidekick sidecar');
  expect(caller.out).toContain('no app port');
  const passed = caller.matches(/^== APP == Order passed: (.*)$/gm);
  expect(passed).toHaveLength(3);
  const first = /status=(\d+) app=(\S+) body=(.*)/.exec(passed[0] ?? '');
  expect(first?.[1]).toBe('201');
  expect(first?.[2]).toBe('express');
  expect(JSON.parse(first?.[3] ?? '{}')).toEqual({ orderId: 1, query: { source: 'python' }, caller: 'caller', custom: 'yes' });
  expect(caller.out).toContain('== APP == GET passed: {"orderId":7,"verb":"GET"}');
  // The app ended by itself: its sidecar is stopped and the CLI exits with the app's code.
  expect(exit.code).toBe(0);
  expect(caller.out).toContain('"caller" stopped: the app exited (code 0)');
  expect(target.out).toContain('== APP == Order received: {"orderId":3}');

  const invoked = await cli(['invoke', '--app-id', 'target', '--method', 'orders', '--data', '{"orderId":9}'], env);
  expect(invoked.code).toBe(0);
  expect(JSON.parse(invoked.stdout)).toEqual(expect.objectContaining({ orderId: 9 }));
  expect(invoked.stderr).toContain('App invoked successfully');
  const get = await cli(['invoke', '--app-id', 'target', '--method', 'orders/5', '--verb', 'GET'], env);
  expect(JSON.parse(get.stdout)).toEqual({ orderId: 5, verb: 'GET' });
  const missing = await cli(['invoke', '--app-id', 'target', '--method', 'nothing-here'], env);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('error: invoking target/nothing-here failed: status 404');

  const stopped = await cli(['stop', '--app-id', 'target'], env);
  expect(stopped).toEqual(expect.objectContaining({ code: 0, stdout: 'App "target" stopped\n' }));
  expect((await target.waitExit(10_000)).code).toBe(0);
});

test('with APP_API_TOKEN set, the sidecar sends it to the app as dapr-api-token', async () => {
  const env = cliEnv({ APP_API_TOKEN: 'app-secret' });
  const appPort = await freePort();
  const target = track(
    startCli('sidekick run (token)', ['run', '--app-id', 'tokenapp', '--app-port', String(appPort), '--', 'node', 'express-target.js'], env),
  );
  await target.waitFor('the app to be ready', () => target.out.includes('the app is ready'), 60_000);
  const res = await cli(['invoke', '--app-id', 'tokenapp', '--method', 'token', '--verb', 'GET'], env);
  expect(res.code).toBe(0);
  expect(JSON.parse(res.stdout)).toEqual({ token: 'app-secret', expected: 'app-secret' });
});

test('an input-binding app gets POST /{binding} after the OPTIONS probe; a failing answer is a failed event, a missing route is not read', async () => {
  const resources = tempDir('sidekick-cli-bindings-');
  mkdirSync(resources, { recursive: true });
  const binding = (name: string): string =>
    `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${name}\nspec:\n  type: bindings.cron\n  version: v1\n  metadata:\n    - name: schedule\n      value: "@every 1s"\n    - name: direction\n      value: input\n`;
  writeFileSync(join(resources, 'cron.yaml'), binding('cron'));
  writeFileSync(join(resources, 'unread.yaml'), binding('unread'));
  const env = cliEnv({ FAIL_FIRST: '1' });
  const appPort = await freePort();
  const run = track(
    startCli(
      'sidekick run (binding app)',
      ['run', '--app-id', 'batch', '--app-port', String(appPort), '--resources-path', resources, '--', 'node', 'binding-app.js'],
      env,
    ),
  );
  const ticks = await eventually(
    'three cron ticks',
    () => getJson<{ ticks: number }>(`http://127.0.0.1:${appPort}/ticks`),
    (t) => t.ticks >= 3,
    30_000,
    run,
  );
  expect(ticks.ticks).toBeGreaterThanOrEqual(3);
  expect(run.out).toContain('the app has no route /unread (OPTIONS answered 404): input binding not read');
  expect(run.out).toMatch(/reading input binding binding=cron handler="POST \/cron"/);
  expect(run.out).toContain('== APP == cron tick 1');
  expect(run.out).toMatch(/POST \/cron answered 500/);

  // sidekick logs --follow prints new lines as they come, and ends when the run ends.
  const follow = track(startCli('sidekick logs --follow', ['logs', '--app-id', 'batch', '--follow'], env));
  const seen = ticks.ticks;
  await follow.waitFor('a new tick in the followed log', () => follow.out.includes(`cron tick ${seen + 1} `), 20_000);
  expect(follow.out).toContain('binding app listening on');
  run.child.kill('SIGINT');
  expect((await run.waitExit(30_000)).code).toBe(0);
  expect((await follow.waitExit(10_000)).code).toBe(0);
});
