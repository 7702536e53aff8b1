import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/app';
import { cli, cliEnv, ensureCliBuilt, FIXTURES, startCli } from '../support/cli';
import { freePort, type Proc } from '../support/processes';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

/**
 * `sidekick run -f`: Dapr's Multi-App Run file with two apps, a Python publisher and a Python
 * subscriber, each behind its own Sidekick sidecar, talking through Redis Streams; Ctrl-C stops all.
 */

jest.setTimeout(120_000);

let proc: Proc | undefined;

beforeAll(async () => {
  await ensureCliBuilt();
}, 200_000);

afterEach(async () => {
  await proc?.stop();
  proc = undefined;
});

test('a dapr.yaml with a publisher and a subscriber: both start, talk, and stop on Ctrl-C', async () => {
  await requireRedis();
  const dir = tempDir('sidekick-cli-runfile-');
  const topic = `cli-orders-${randomUUID()}`;
  const appPort = await freePort();
  mkdirSync(join(dir, 'components'));
  writeFileSync(
    join(dir, 'components', 'pubsub.yaml'),
    `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: orderpubsub\nspec:\n  type: pubsub.redis\n  version: v1\n  metadata:\n    - name: redisHost\n      value: ${redisHostPort()}\n`,
  );
  // Dapr's quickstart layout: common resources and env, one entry per app (paths relative to the file, or absolute).
  writeFileSync(
    join(dir, 'dapr.yaml'),
    `version: 1
common:
  resourcesPath: ./components
  env:
    PUBSUB_NAME: orderpubsub
    TOPIC_NAME: ${topic}
apps:
  - appID: order-processor
    appDirPath: ${FIXTURES}
    appPort: ${appPort}
    command: ["python3", "python-subscriber.py"]
  - appID: checkout
    appDirPath: ${FIXTURES}
    command: ["python3", "python-publisher.py"]
    env:
      ORDER_COUNT: "5"
`,
  );
  const env = cliEnv();

  proc = startCli('sidekick run -f', ['run', '-f', dir], env, dir);
  await proc.waitFor('five orders received', () => proc!.matches(/^== APP - order-processor == Subscriber received: (.*)$/gm).length >= 5, 60_000);
  const got = proc.matches(/^== APP - order-processor == Subscriber received: (.*)$/gm).map((s) => (JSON.parse(s) as { orderId: number }).orderId);
  expect(got.sort()).toEqual([1, 2, 3, 4, 5]);
  expect(proc.out).toContain('== APP - checkout == Published data: {"orderId": 5}');
  expect(proc.out).toContain(`Starting 2 app(s) from ${join(dir, 'dapr.yaml')}`);

  const list = JSON.parse((await cli(['list', '--output', 'json'], env)).stdout) as { appId: string; pid: number }[];
  expect(list.map((a) => a.appId).sort()).toEqual(['checkout', 'order-processor']);

  proc.child.kill('SIGINT');
  const exit = await proc.waitExit(40_000);
  expect(exit.code).toBe(0);
  expect(proc.out).toContain('"checkout" stopped: stopped');
  expect(proc.out).toContain('"order-processor" stopped: stopped');
  for (const app of list) expect(() => process.kill(app.pid, 0)).toThrow();
  expect(JSON.parse((await cli(['list', '--output', 'json'], env)).stdout)).toEqual([]);
  const redis = rawRedis();
  await redis.connect();
  await redis.del(topic);
  redis.disconnect();
});

test('a bad run file is one clear line and a non-zero exit', async () => {
  const env = cliEnv();
  const dir = tempDir('sidekick-cli-badfile-');
  const missing = await cli(['run', '-f', dir], env);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toBe(`error: ${dir} has no dapr.yaml: pass the run file itself (sidekick run -f path/to/dapr.yaml)\n`);
  writeFileSync(join(dir, 'dapr.yaml'), 'version: 1\napps:\n  - appID: a\n    appDirPath: ./nowhere\n    command: ["node", "x.js"]\n');
  const badDir = await cli(['run', '-f', dir], env);
  expect(badDir.code).toBe(1);
  expect(badDir.stderr).toMatch(/^error: .*dapr\.yaml: apps\[0\] \(a\): appDirPath \.\/nowhere does not exist/);
  writeFileSync(join(dir, 'dapr.yaml'), 'version: 2\napps: []\n');
  const badVersion = await cli(['run', '-f', join(dir, 'dapr.yaml')], env);
  expect(badVersion.code).toBe(1);
  expect(badVersion.stderr).toContain('only version: 1 is supported');
});
