import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { Client } from 'pg';
import { tempDir } from '../support/app';
import { ensureBuilt, freePort, type Proc, ROOT, startNode, waitHealthy } from '../support/processes';
import { kafkaBrokers, postgresUrl, requireKafka, requirePostgres } from '../support/services';

/**
 * samples/03-bindings as a user runs it: the compiled batch app against real PostgreSQL and Kafka.
 * A cron input binding writes batches of 3 orders through the PostgreSQL output binding; a Kafka
 * input binding inserts each record of topic orders-in.
 */

const SAMPLE = join(ROOT, 'samples/03-bindings');
const MAIN_JS = join(ROOT, 'dist/samples/03-bindings/src/main.js');
const TABLE = 'batch_orders';
const TOPIC = 'orders-in';

/** The sample's components, pointed at the test Kafka when it is not the sample's 127.0.0.1:9092. */
function components(): string {
  const folder = join(SAMPLE, 'components');
  if (kafkaBrokers() === '127.0.0.1:9092') return folder;
  const copy = tempDir('sidekick-bindings-components-');
  for (const file of readdirSync(folder)) {
    writeFileSync(join(copy, file), readFileSync(join(folder, file), 'utf8').replace('value: 127.0.0.1:9092', `value: ${kafkaBrokers()}`));
  }
  return copy;
}

async function sql<T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: postgresUrl() });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function eventually<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, proc: Proc): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (!proc.running) throw new Error(`batch exited while waiting for ${what}\n${proc.describe()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(value)})\n${proc.describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('samples/03-bindings: cron -> PostgreSQL output binding, Kafka input binding -> PostgreSQL', () => {
  let batch: Proc;

  beforeAll(async () => {
    await ensureBuilt([MAIN_JS]);
    await requirePostgres();
    await requireKafka();
    await sql(`DROP TABLE IF EXISTS ${TABLE}`); // rows left by an earlier run cannot pass the test
    const dir = tempDir('sidekick-bindings-');
    const apiPort = await freePort();
    batch = startNode('batch', MAIN_JS, {
      env: {
        PORT: String(await freePort()),
        SIDEKICK_HTTP_PORT: String(apiPort),
        SIDEKICK_RESOURCES_PATH: components(),
        SIDEKICK_REGISTRY_DIR: join(dir, 'registry'),
        SIDEKICK_DATA_DIR: join(dir, 'data'),
        PG_CONNECTION_STRING: postgresUrl(),
      },
    });
    // Healthy means the input bindings are read (the Kafka consumer joined its group) and the table exists.
    await waitHealthy(batch, `http://127.0.0.1:${apiPort}`, 30_000);
  }, 180_000);

  afterAll(async () => {
    await batch?.stop();
  });

  it('the cron binding writes a batch of 3 orders every 2 s: at least 2 batches after ~5 s', async () => {
    const batches = await eventually(
      'two cron batches',
      () =>
        sql<{ batch: number; n: string; ids: number[] }>(
          `SELECT batch, count(*) AS n, array_agg(order_id ORDER BY order_id) AS ids FROM ${TABLE} WHERE source = 'cron' GROUP BY batch ORDER BY batch`,
        ),
      (rows) => rows.length >= 2,
      7_000,
      batch,
    );
    expect(batches.slice(0, 2)).toEqual([
      { batch: 1, n: '3', ids: [101, 102, 103] },
      { batch: 2, n: '3', ids: [201, 202, 203] },
    ]);
    for (const row of batches) expect(row.n).toBe('3');
    expect(batch.out).toMatch(/Batch 1 \(tick [^)]+\): inserted 3 orders 101, 102, 103/);
  }, 15_000);

  it('each record produced to orders-in becomes a row; a record that is not an order is skipped', async () => {
    const customer = `e2e-${randomUUID().slice(0, 8)}`;
    const orders = [1, 2, 3].map((orderId) => ({ orderId, customer, price: orderId * 1.5 }));
    const producer = new Kafka({ brokers: kafkaBrokers().split(','), clientId: 'sidekick-test-producer', logLevel: logLevel.NOTHING }).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      await producer.send({
        topic: TOPIC,
        messages: [{ value: `not an order ${customer}` }, ...orders.map((o) => ({ key: String(o.orderId), value: JSON.stringify(o) }))],
      });
    } finally {
      await producer.disconnect();
    }
    const rows = await eventually(
      'three rows from Kafka',
      () =>
        sql<{ order_id: number; price: string; batch: number | null }>(
          `SELECT order_id, price, batch FROM ${TABLE} WHERE source = 'kafka' AND customer = $1 ORDER BY order_id`,
          [customer],
        ),
      (found) => found.length >= 3,
      10_000,
      batch,
    );
    expect(rows).toEqual([
      { order_id: 1, price: '1.50', batch: null },
      { order_id: 2, price: '3.00', batch: null },
      { order_id: 3, price: '4.50', batch: null },
    ]);
    const logged = batch
      .matches(/Received from Kafka \(partition \d+ offset \d+\): (\{.*\})$/gm)
      .map((json) => JSON.parse(json) as { orderId: number; customer: string })
      .filter((o) => o.customer === customer);
    expect(logged.sort((a, b) => a.orderId - b.orderId)).toEqual(orders);
    expect(batch.out).toContain(`Skipped a record that is not an order`);
    expect(batch.out).toContain(`not an order ${customer}`);
  }, 20_000);

  it('exits with code 0 on SIGTERM', async () => {
    const exit = await batch.stop();
    expect({ exit, stderr: batch.err }).toEqual({ exit: { code: 0, signal: null }, stderr: '' });
  }, 15_000);
});
