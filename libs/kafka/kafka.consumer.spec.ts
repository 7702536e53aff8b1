import { randomUUID } from 'node:crypto';
import { componentInit } from '../../src/spi/metadata-reader';
import { SystemClock } from '../../src/runtime/time/system.clock';
import { noopLogger } from '../../test/support/logger';
import { restartKafkaBroker } from '../../test/support/kafka-broker';
import { deleteKafkaTopics, kafkaBrokers, requireKafka } from '../../test/support/services';
import { eventually } from '../../test/support/collector';
import { KafkaPubSub, kafkaPubSubFactory } from './kafka.pubsub';

/*
 * One app = one pub/sub component with several subscriptions in one consumer group (the app id):
 * three topics and the dead-letter topic the app's own handler publishes to. Every published event
 * must be delivered (at least once: duplicates are counted, never missing) while a second instance
 * joins the group, and across a broker restart.
 */

const run = randomUUID().slice(0, 8);
const created: string[] = [];
const topicName = (name: string): string => {
  const topic = `sidekick-stream-${name}-${run}`;
  created.push(topic);
  return topic;
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const EVENTS = 300;
const DEAD_EVERY = 10; // every 10th event is dead-lettered by the app's handler

interface Stream {
  readonly topics: readonly string[];
  readonly dlq: string;
  readonly group: string;
  /** Deliveries per event id (main topics for the healthy ones, the dead-letter topic for the others). */
  readonly deliveries: Map<string, number>;
  readonly apps: KafkaPubSub[];
}

function stream(name: string): Stream {
  return { topics: [1, 2, 3].map((i) => topicName(`${name}-${i}`)), dlq: topicName(`${name}-dlq`), group: `${name}-${run}`, deliveries: new Map(), apps: [] };
}

/** Starts one instance of the app: subscriptions to the three topics and to the dead-letter topic. */
async function startApp(s: Stream): Promise<KafkaPubSub> {
  const app = kafkaPubSubFactory.create();
  await app.init(
    componentInit({
      name: 'kafka',
      type: 'pubsub.kafka',
      appId: s.group,
      metadata: { brokers: kafkaBrokers(), heartbeatInterval: '300ms', sessionTimeout: '6s', initialOffset: 'oldest' },
      clock: new SystemClock(),
      logger: noopLogger,
      source: '(test)',
    }),
  );
  s.apps.push(app);
  const record = (id: string): void => void s.deliveries.set(id, (s.deliveries.get(id) ?? 0) + 1);
  for (const topic of s.topics) {
    await app.subscribe({ topic, consumerGroup: s.group }, async (m) => {
      const id = m.data.toString();
      if (id.startsWith('dead-')) await app.publish({ topic: s.dlq, data: m.data, metadata: { partitionKey: id } });
      else record(id);
    });
  }
  await app.subscribe({ topic: s.dlq, consumerGroup: s.group }, async (m) => record(m.data.toString()));
  return app;
}

/** Publishes EVENTS events round-robin on the topics (retrying each until the broker accepts it); `at(n)` runs after the n-th. */
async function publish(s: Stream, publisher: KafkaPubSub, at: (n: number) => Promise<void> = async () => undefined): Promise<string[]> {
  const sent: string[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const id = `${i % DEAD_EVERY === 0 ? 'dead' : 'ok'}-${i}`;
    const topic = s.topics[i % s.topics.length] as string;
    for (;;) {
      try {
        await publisher.publish({ topic, data: Buffer.from(id), metadata: { partitionKey: id } });
        break;
      } catch {
        await sleep(200); // the broker is down: publish again (at least once on the publishing side too)
      }
    }
    sent.push(id);
    await at(sent.length);
    await sleep(5);
  }
  return sent;
}

async function expectAllDelivered(s: Stream, sent: readonly string[], timeoutMs: number): Promise<{ received: number; duplicates: number }> {
  const missing = (): string[] => sent.filter((id) => !s.deliveries.has(id));
  await eventually(() => missing().length === 0, timeoutMs, `all ${sent.length} events`).catch((err: unknown) => {
    throw new Error(`${err instanceof Error ? err.message : String(err)}: ${missing().length} missing, e.g. ${missing().slice(0, 10).join(', ')}`);
  });
  const received = [...s.deliveries.values()].reduce((a, b) => a + b, 0);
  return { received, duplicates: received - s.deliveries.size };
}

describe('pubsub.kafka: several subscriptions of one app in one consumer group', () => {
  const streams: Stream[] = [];
  let publisher: KafkaPubSub;

  beforeAll(async () => {
    await requireKafka();
    publisher = kafkaPubSubFactory.create();
    await publisher.init(
      componentInit({
        name: 'kafka',
        type: 'pubsub.kafka',
        appId: 'publisher',
        metadata: { brokers: kafkaBrokers() },
        clock: new SystemClock(),
        logger: noopLogger,
        source: '(test)',
      }),
    );
  });

  afterAll(async () => {
    for (const s of streams) await Promise.all(s.apps.map((app) => app.close()));
    await publisher?.close();
    await deleteKafkaTopics(created);
    // kafkajs finishes a consumer restart begun during the broker restart on its own time (it loads its
    // protocol modules lazily): let it settle before jest tears this file's environment down.
    await sleep(2000);
  }, 60_000);

  it('three topics and a dead-letter subscriber, then a second instance joining mid-stream: every event is delivered', async () => {
    const s = stream('join');
    streams.push(s);
    await startApp(s);
    const sent = await publish(s, publisher, async (n) => {
      if (n === EVENTS / 3) await startApp(s); // four subscriptions: the group rebalances while events flow
    });
    const { received, duplicates } = await expectAllDelivered(s, sent, 60_000);
    console.info(
      `second instance joining: ${sent.length} published, ${s.deliveries.size} distinct received (${received} deliveries, ${duplicates} duplicates)`,
    );
    expect(s.deliveries.size).toBe(sent.length);
  }, 120_000);

  it('a broker restart mid-stream: every event the broker accepted is delivered', async () => {
    const s = stream('restart');
    streams.push(s);
    await startApp(s);
    let back = 0;
    const sent = await publish(s, publisher, async (n) => {
      if (n !== EVENTS / 3) return;
      await restartKafkaBroker(() => sleep(2000));
      back = Date.now();
    });
    const { received, duplicates } = await expectAllDelivered(s, sent, 120_000);
    console.info(
      `broker restart: ${sent.length} published, ${s.deliveries.size} distinct received (${received} deliveries, ${duplicates} duplicates), all delivered ${Date.now() - back} ms after the broker was back`,
    );
    expect(s.deliveries.size).toBe(sent.length);
  }, 240_000);
});
