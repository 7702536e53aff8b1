import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/app';
import { cli, cliEnv, cliProcesses, eventually, getJson, post, sleep, startCli } from '../support/cli';
import { freePort } from '../support/processes';

/**
 * `sidekick run --enable-app-health-check`: daprd's periodic app health checks in sidecar mode. The
 * fixture app (test/fixtures/sidecar/health-app.js) flips its /healthz; while it fails, the sidecar
 * holds pub/sub events and input-binding events and refuses invocations, then delivers what waited
 * once the app is healthy again. The transitions are in the sidecar's output.
 */

jest.setTimeout(180_000);

const running = cliProcesses();

interface Received {
  orders: { orderId: number }[];
  ticks: number;
  ordersWhileUnhealthy: number;
}

test('(with --metrics-port) an unhealthy app gets no events (they wait, not dropped) and invocations answer 500; all resumes when it recovers', async () => {
  const resources = tempDir('sidekick-cli-health-');
  mkdirSync(resources, { recursive: true });
  writeFileSync(
    join(resources, 'ticks.yaml'),
    'apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ticks\nspec:\n  type: bindings.cron\n  version: v1\n  metadata:\n    - name: schedule\n      value: "@every 1s"\n    - name: direction\n      value: input\n',
  );
  writeFileSync(
    join(resources, 'pubsub.yaml'),
    'apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: pubsub\nspec:\n  type: pubsub.in-memory\n  version: v1\n',
  );
  const env = cliEnv();
  const [appPort, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const api = `http://127.0.0.1:${httpPort}`;
  const app = `http://127.0.0.1:${appPort}`;
  const run = startCli(
    'sidekick run (health app)',
    [
      'run',
      '--app-id',
      'healthapp',
      '--app-port',
      String(appPort),
      '--dapr-http-port',
      String(httpPort),
      '--resources-path',
      resources,
      '--enable-app-health-check',
      '--app-health-probe-interval',
      '1',
      '--app-health-probe-timeout',
      '500',
      '--app-health-threshold',
      '2',
      '--metrics-port',
      String(metricsPort),
      '--',
      'node',
      'health-app.js',
    ],
    env,
  );
  running.push(run);
  await run.waitFor('the subscription', () => run.out.includes('subscribed pubsub=pubsub topic=orders'), 60_000);
  expect(run.out).toMatch(/app health checks enabled.*path=\/healthz.*intervalMs=1000.*timeoutMs=500.*threshold=2/);
  expect((await post(`${api}/v1.0/publish/pubsub/orders`, { orderId: 1 })).status).toBe(204);
  await eventually(
    'order 1 and a tick',
    () => getJson<Received>(`${app}/received`),
    (r) => r.orders.length === 1 && r.ticks >= 1,
    20_000,
    run,
  );
  expect((await fetch(`${api}/v1.0/invoke/healthapp/method/hello`)).status).toBe(200);
  // --metrics-port: the sidecar's Prometheus endpoint is there.
  const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(metrics.status).toBe(200);
  expect(await metrics.text()).toContain('dapr_http_server_request_count');

  // The app fails its health probes: after two failures in a row the sidecar pauses.
  expect((await fetch(`${app}/health/fail`, { method: 'POST' })).status).toBe(204);
  await run.waitFor('the unhealthy transition', () => run.out.includes('the app is unhealthy: pausing'), 20_000);
  const atPause = await getJson<Received>(`${app}/received`);
  for (const orderId of [2, 3, 4]) expect((await post(`${api}/v1.0/publish/pubsub/orders`, { orderId })).status).toBe(204);
  const refused = await fetch(`${api}/v1.0/invoke/healthapp/method/hello`);
  expect(refused.status).toBe(500);
  expect(await refused.json()).toEqual({ errorCode: 'ERR_DIRECT_INVOKE', message: 'failed to invoke, id: healthapp, err: app is not in a healthy state' });
  await sleep(3_000);
  const paused = await getJson<Received>(`${app}/received`);
  expect(paused.orders).toEqual([{ orderId: 1 }]); // published while unhealthy: held, not delivered
  expect(paused.ordersWhileUnhealthy).toBe(0);
  expect(paused.ticks).toBeLessThanOrEqual(atPause.ticks + 1); // at most the tick already on its way

  // Healthy again: the events that waited are delivered, the binding and invocations resume.
  expect((await fetch(`${app}/health/ok`, { method: 'POST' })).status).toBe(204);
  await run.waitFor('the healthy transition', () => run.out.includes('the app is healthy again: resuming deliveries'), 20_000);
  const resumed = await eventually(
    'the held orders and new ticks',
    () => getJson<Received>(`${app}/received`),
    (r) => r.orders.length === 4 && r.ticks >= paused.ticks + 2,
    20_000,
    run,
  );
  expect(resumed.orders.map((o) => o.orderId).sort()).toEqual([1, 2, 3, 4]);
  expect((await fetch(`${api}/v1.0/invoke/healthapp/method/hello`)).status).toBe(200);
  expect(run.out.indexOf('the app is unhealthy: pausing')).toBeLessThan(run.out.indexOf('the app is healthy again'));

  run.child.kill('SIGINT');
  expect((await run.waitExit(30_000)).code).toBe(0);
});

test('the health settings are checked, and without --enable-app-health-check they do nothing (a warning says so)', async () => {
  const env = cliEnv();
  const bad = await cli(['run', '--app-id', 'x', '--enable-app-health-check', '--app-health-threshold', '0', '--', 'node', '-e', '0'], env);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('--app-health-threshold "0" is not a positive whole number');
  const ignored = await cli(
    ['run', '--app-id', 'plain', '--app-health-probe-interval', '2', '--', 'node', '-e', '0'],
    env,
    join(__dirname, '../fixtures/sidecar'),
  );
  expect(ignored.stderr).toContain('warning: --app-health-probe-interval has no effect without --enable-app-health-check');
  expect(ignored.code).toBe(0);
});
