import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/app';
import { ensureBuilt, freePort, type Proc, ROOT, startNode, waitHealthy } from '../support/processes';
import { deleteKafkaTopics, kafkaBrokers, rawRedis, redisHostPort, requireKafka, requireRedis } from '../support/services';

/**
 * samples/02-pubsub as a user runs it: order-processor, then checkout, as two processes on Redis
 * and on Kafka; and the all-in-one app (one process, one app id) on the in-memory pub/sub.
 */

const SAMPLE = join(ROOT, 'samples/02-pubsub');
const DIST = join(ROOT, 'dist/samples/02-pubsub/src');
const CHECKOUT_JS = join(DIST, 'checkout.main.js');
const ORDER_PROCESSOR_JS = join(DIST, 'order-processor.main.js');
const ALL_IN_ONE_JS = join(DIST, 'all-in-one.main.js');
const ORDER_IDS = Array.from({ length: 10 }, (_, i) => i + 1);

const running: Proc[] = [];

/** The sample's component folder, copied with the test's broker address when it is not the sample's. */
function components(variant: 'redis' | 'kafka' | 'memory'): string {
  const folder = join(SAMPLE, 'components', variant);
  const [from, to] = variant === 'redis' ? ['127.0.0.1:6379', redisHostPort()] : variant === 'kafka' ? ['127.0.0.1:9092', kafkaBrokers()] : ['', ''];
  if (from === to) return folder;
  const copy = tempDir(`sidekick-pubsub-${variant}-`);
  for (const file of readdirSync(folder)) {
    writeFileSync(join(copy, file), readFileSync(join(folder, file), 'utf8').replace(`value: ${from}`, `value: ${to}`));
  }
  return copy;
}

/** Ports, a private registry and data folder: what every app of the sample gets. */
async function appEnv(resources: string, extra: Record<string, string> = {}): Promise<{ env: Record<string, string>; apiUrl: string }> {
  const dir = tempDir('sidekick-pubsub-app-');
  const apiPort = await freePort();
  return {
    apiUrl: `http://127.0.0.1:${apiPort}`,
    env: {
      PORT: String(await freePort()),
      SIDEKICK_HTTP_PORT: String(apiPort),
      SIDEKICK_RESOURCES_PATH: resources,
      SIDEKICK_REGISTRY_DIR: join(dir, 'registry'),
      SIDEKICK_DATA_DIR: join(dir, 'data'),
      ...extra,
    },
  };
}

async function startOrderProcessor(resources: string, extra: Record<string, string> = {}): Promise<{ proc: Proc; apiUrl: string }> {
  const { env, apiUrl } = await appEnv(resources, extra);
  const proc = startNode('order-processor', ORDER_PROCESSOR_JS, { env });
  running.push(proc);
  // Healthy means subscribed: subscriptions start before the Dapr HTTP API listens.
  await waitHealthy(proc, apiUrl);
  return { proc, apiUrl };
}

/** Runs checkout to its end (it exits by itself after the last order). */
async function runCheckout(resources: string, extra: Record<string, string> = {}): Promise<Proc> {
  const { env } = await appEnv(resources, { ORDER_INTERVAL_MS: '50', ...extra });
  const proc = startNode('checkout', CHECKOUT_JS, { env });
  running.push(proc);
  await proc.waitExit(20_000);
  return proc;
}

const published = (proc: Proc): number[] => proc.matches(/Published data: (\{.*\})$/gm).map((json) => (JSON.parse(json) as { orderId: number }).orderId);
const received = (proc: Proc): number[] => proc.matches(/Subscriber received: (\{.*\})$/gm).map((json) => (JSON.parse(json) as { orderId: number }).orderId);
const sorted = (ids: number[]): number[] => [...ids].sort((a, b) => a - b);

/**
 * Waits for all 10 orders, then a little longer so that a duplicate delivery would show up. A
 * timeout names what the publisher printed too (`publisher`), since the failure may be on its side.
 */
async function waitForAllOrders(proc: Proc, timeoutMs = 15_000, publisher?: Proc): Promise<void> {
  try {
    await proc.waitFor('all 10 orders to be received', () => received(proc).length >= ORDER_IDS.length, timeoutMs);
  } catch (err) {
    if (!publisher) throw err;
    throw new Error(`${(err as Error).message}\n${publisher.describe()}`);
  }
  await new Promise((r) => setTimeout(r, 500));
}

beforeAll(async () => {
  await ensureBuilt([CHECKOUT_JS, ORDER_PROCESSOR_JS, ALL_IN_ONE_JS]);
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
});

describe('samples/02-pubsub on Redis: checkout -> orders stream -> order-processor', () => {
  const resources = (): string => components('redis');
  let processor: { proc: Proc; apiUrl: string };
  let checkout: Proc;

  beforeAll(async () => {
    await requireRedis();
    const redis = rawRedis();
    try {
      await redis.connect();
      // The YAML fixes the stream names: start from empty streams (this also drops the consumer groups).
      await redis.del('orders', 'orders-dead');
    } finally {
      redis.disconnect();
    }
    processor = await startOrderProcessor(resources());
    checkout = await runCheckout(resources());
    await waitForAllOrders(processor.proc, 15_000, checkout);
  }, 40_000);

  it('checkout published orders 1..10 in order and exited with code 0', () => {
    expect({ exit: checkout.exit, stderr: checkout.err }).toEqual({ exit: { code: 0, signal: null }, stderr: '' });
    expect(published(checkout)).toEqual(ORDER_IDS);
  });

  it('order-processor received every order exactly once', () => {
    expect(sorted(received(processor.proc))).toEqual(ORDER_IDS);
  });

  it('Redis holds the 10 events in stream orders, all acknowledged by group order-processor', async () => {
    const redis = rawRedis();
    try {
      await redis.connect();
      expect(await redis.xlen('orders')).toBe(10);
      const groups = (await redis.xinfo('GROUPS', 'orders')) as unknown[][];
      const group = groups.map((fields) => Object.fromEntries(chunk(fields))).find((g) => g['name'] === 'order-processor');
      expect(group).toMatchObject({ name: 'order-processor', pending: 0 });
    } finally {
      redis.disconnect();
    }
  });

  it('a malformed order published through the Dapr HTTP API goes to orders-dead', async () => {
    const res = await fetch(`${processor.apiUrl}/v1.0/publish/orderpubsub/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId: 'not-a-number' }),
    });
    expect(res.status).toBe(204);
    const redis = rawRedis();
    try {
      await redis.connect();
      const deadline = Date.now() + 10_000;
      while ((await redis.xlen('orders-dead')) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await redis.xlen('orders-dead')).toBe(1);
      const [entry] = await redis.xrange('orders-dead', '-', '+');
      const envelope = JSON.parse(Object.fromEntries(chunk(entry![1]))['data'] as string) as { data: unknown };
      expect(envelope.data).toEqual({ orderId: 'not-a-number' });
    } finally {
      redis.disconnect();
    }
    expect(sorted(received(processor.proc))).toEqual(ORDER_IDS);
  });

  it('order-processor shuts down gracefully on SIGTERM with exit code 0', async () => {
    const exit = await processor.proc.stop();
    expect({ exit, stderr: processor.proc.err }).toEqual({ exit: { code: 0, signal: null }, stderr: '' });
  }, 10_000);
});

describe('samples/02-pubsub on Kafka: checkout -> topic -> order-processor', () => {
  // A fresh topic per run (ORDERS_TOPIC, read by both apps): nothing left by an earlier run is read.
  const topic = `orders-e2e-${randomUUID().slice(0, 8)}`;
  let processor: { proc: Proc; apiUrl: string };
  let checkout: Proc;

  beforeAll(async () => {
    await requireKafka();
    // Debug logs: a failed run shows handler rejections, rebalances and commits of the subscriber.
    processor = await startOrderProcessor(components('kafka'), { ORDERS_TOPIC: topic, SIDEKICK_LOG_LEVEL: 'debug' });
    checkout = await runCheckout(components('kafka'), { ORDERS_TOPIC: topic });
    // A busy broker (other suites share it) can rebalance the new group once: up to a session timeout (10 s).
    await waitForAllOrders(processor.proc, 30_000, checkout);
  }, 60_000);

  afterAll(() => deleteKafkaTopics([topic, `${topic}-dead`]), 20_000);

  it('checkout published orders 1..10 in order and exited with code 0', () => {
    expect({ exit: checkout.exit, stderr: checkout.err }).toEqual({ exit: { code: 0, signal: null }, stderr: '' });
    expect(published(checkout)).toEqual(ORDER_IDS);
  });

  it('order-processor received every order exactly once', () => {
    expect(sorted(received(processor.proc))).toEqual(ORDER_IDS);
  });

  it('order-processor shuts down gracefully on SIGTERM with exit code 0', async () => {
    const exit = await processor.proc.stop();
    expect({ exit, stderr: processor.proc.err }).toEqual({ exit: { code: 0, signal: null }, stderr: '' });
  }, 15_000);
});

describe('samples/02-pubsub all-in-one on the in-memory pub/sub: both modules in one process', () => {
  let app: Proc;

  beforeAll(async () => {
    const { env } = await appEnv(components('memory'), { ORDER_INTERVAL_MS: '20' });
    app = startNode('pubsub-all-in-one', ALL_IN_ONE_JS, { env });
    running.push(app);
    await app.waitFor('"Published all 10 orders"', () => app.out.includes('Published all 10 orders'), 20_000);
    await waitForAllOrders(app);
  }, 30_000);

  it('published orders 1..10 and received each exactly once', () => {
    expect(published(app)).toEqual(ORDER_IDS);
    expect(sorted(received(app))).toEqual(ORDER_IDS);
  });

  it('keeps running after publishing, and exits with code 0 on SIGTERM', async () => {
    expect(app.running).toBe(true);
    const exit = await app.stop();
    expect({ exit, stderr: app.err }).toEqual({ exit: { code: 0, signal: null }, stderr: '' });
  }, 10_000);
});

/** `[k1, v1, k2, v2]` as `[[k1, v1], [k2, v2]]` (Redis replies). */
function chunk(flat: readonly unknown[]): [string, unknown][] {
  const pairs: [string, unknown][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([String(flat[i]), flat[i + 1]]);
  return pairs;
}
