import { randomBytes, randomUUID } from 'node:crypto';
import { type Admin, Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import { ConfigError } from '../../src/errors/config.errors';
import { SystemClock } from '../../src/runtime/time/system.clock';
import type { ComponentMetadata } from '../../src/spi/component';
import type { ReceivedMessage } from '../../src/spi/pubsub';
import { noopLogger } from '../../test/support/logger';
import { deleteKafkaTopics, kafkaBrokers, requireKafka } from '../../test/support/services';
import { describePubSubConformance } from '../conformance/pubsub.conformance';
import { KafkaPubSub, kafkaPubSubFactory } from './kafka.pubsub';
import { eventually } from '../../test/support/collector';
import { componentInit } from '../../src/spi/metadata-reader';

const run = randomUUID().slice(0, 8);
const created: string[] = [];
let counter = 0;
const uniqueTopic = (name = 'conformance'): string => {
  const topic = `sidekick-${name}-${run}-${++counter}`;
  created.push(topic);
  return topic;
};

// Short heartbeats make rebalances (a second instance joining, one leaving) take well under a second.
const metadata = (extra: Record<string, string> = {}): ComponentMetadata => ({
  brokers: kafkaBrokers(),
  heartbeatInterval: '300ms',
  sessionTimeout: '6s',
  ...extra,
});

async function openPubSub(md: ComponentMetadata = metadata()): Promise<KafkaPubSub> {
  const pubsub = kafkaPubSubFactory.create();
  await pubsub.init(
    componentInit({ name: 'kafka', type: 'pubsub.kafka', appId: 'app', metadata: md, clock: new SystemClock(), logger: noopLogger, source: '(test)' }),
  );
  return pubsub;
}

const waitFor = (what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> => eventually(done, timeoutMs, what);

const rawKafka = (): Kafka => new Kafka({ brokers: kafkaBrokers().split(','), clientId: 'sidekick-test-raw', logLevel: logLevel.NOTHING });

afterAll(() => deleteKafkaTopics(created), 30_000);

describePubSubConformance('pubsub.kafka', {
  ordered: true,
  redeliveryAfterMs: 1000,
  supportsConsumerDeath: true,
  // Keys that the default (Java-compatible murmur2) partitioner puts on partitions 0 and 1 of 3.
  isolatedKeys: { poison: 'poison', healthy: 'healthy' },
  uniqueTopic: () => uniqueTopic(),
  async create() {
    await requireKafka();
    const pubsub = await openPubSub();
    return { pubsub, cleanup: () => pubsub.close(), abandon: () => pubsub.abort() };
  },
});

describe('pubsub.kafka: Kafka specifics', () => {
  let pubsub: KafkaPubSub;
  let admin: Admin;

  beforeAll(async () => {
    await requireKafka();
    pubsub = await openPubSub();
    admin = rawKafka().admin();
    await admin.connect();
  });

  afterAll(async () => {
    await pubsub?.close();
    await admin?.disconnect();
  });

  /** Every record of `topic` from the start, read by a plain kafkajs consumer in a group of its own. */
  async function rawRead(topic: string, count: number): Promise<KafkaMessage[]> {
    const consumer = rawKafka().consumer({ groupId: `raw-${randomUUID()}`, maxWaitTimeInMs: 200 });
    const got: KafkaMessage[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void got.push(message) });
      await waitFor(`${count} raw records on ${topic}`, () => got.length >= count);
    } finally {
      await consumer.disconnect();
    }
    return got;
  }

  it('publishes the key from partitionKey and every other metadata entry as a header, as a raw consumer sees it', async () => {
    const topic = uniqueTopic('raw');
    await pubsub.publish({ topic, data: Buffer.from('{"a":1}'), metadata: { partitionKey: 'order-7', traceparent: 'tp-1', 'x-tenant': 'é' } });
    const [record] = await rawRead(topic, 1);
    expect(record?.key?.toString()).toBe('order-7');
    expect(record?.value?.toString()).toBe('{"a":1}');
    expect(Object.keys(record?.headers ?? {}).sort()).toEqual(['traceparent', 'x-tenant']);
    expect(record?.headers?.traceparent?.toString()).toBe('tp-1');
    expect(record?.headers?.['x-tenant']?.toString()).toBe('é');
  });

  it('creates a missing topic with the broker default of 3 partitions', async () => {
    const topic = uniqueTopic('created');
    await pubsub.publish({ topic, data: Buffer.from('x') });
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0]?.partitions).toHaveLength(3);
  });

  it('passes key, partition, offset and headers of a raw record to the handler', async () => {
    const topic = uniqueTopic('meta');
    const got: ReceivedMessage[] = [];
    const handle = await pubsub.subscribe({ topic, consumerGroup: 'meta' }, async (m) => void got.push(m));
    const producer = rawKafka().producer();
    await producer.connect();
    const [sent] = await producer.send({ topic, messages: [{ key: 'k-1', value: 'v', headers: { h: 'hv' } }] });
    await producer.disconnect();
    await waitFor('the record', () => got.length === 1);
    await handle.close();
    expect(got[0]?.metadata).toMatchObject({
      partitionKey: 'k-1',
      key: 'k-1',
      h: 'hv',
      partition: String(sent?.partition),
      offset: sent?.baseOffset,
      __topic: topic,
    });
  });

  it('never commits a rejected message: after close, a new consumer of the group gets it again', async () => {
    const topic = uniqueTopic('uncommitted');
    let attempts = 0;
    const first = await pubsub.subscribe({ topic, consumerGroup: 'retry' }, async () => {
      attempts += 1;
      throw new Error('not now');
    });
    await pubsub.publish({ topic, data: Buffer.from('stubborn') });
    await waitFor('three attempts (retried in place)', () => attempts >= 3);
    await first.close();
    const got: string[] = [];
    const second = await openPubSub();
    try {
      await second.subscribe({ topic, consumerGroup: 'retry' }, async (m) => void got.push(m.data.toString()));
      await waitFor('the message again', () => got.length >= 1);
      expect(got).toEqual(['stubborn']);
    } finally {
      await second.close();
    }
  });

  it('initialOffset: newest skips what was published before the group first subscribed, oldest does not', async () => {
    const topic = uniqueTopic('offsets');
    const keyed = { partitionKey: 'one' }; // one partition: 'early' comes before 'late'
    await pubsub.publish({ topic, data: Buffer.from('early'), metadata: keyed });
    const newest: string[] = [];
    const oldest: string[] = [];
    const other = await openPubSub(metadata({ initialOffset: 'oldest' }));
    try {
      await pubsub.subscribe({ topic, consumerGroup: 'newest' }, async (m) => void newest.push(m.data.toString()));
      // The group's start is committed at once, so a rebalance cannot move it past later messages.
      const [pinned] = await admin.fetchOffsets({ groupId: 'newest', topics: [topic] });
      expect(pinned?.partitions.map((p) => Number(p.offset) >= 0)).toEqual([true, true, true]);
      await other.subscribe({ topic, consumerGroup: 'oldest' }, async (m) => void oldest.push(m.data.toString()));
      await pubsub.publish({ topic, data: Buffer.from('late'), metadata: keyed });
      await waitFor('late in both groups', () => newest.includes('late') && oldest.includes('late'));
      expect(newest).toEqual(['late']);
      expect(oldest).toEqual(['early', 'late']);
    } finally {
      await other.close();
    }
  });

  it('maxMessageBytes rejects a larger message before it is sent', async () => {
    const limited = await openPubSub(metadata({ maxMessageBytes: '1024' }));
    const topic = uniqueTopic('limit');
    try {
      await expect(limited.publish({ topic, data: randomBytes(2048) })).rejects.toThrow(/2048 bytes exceeds maxMessageBytes \(1024\)/);
      await expect(limited.publish({ topic, data: randomBytes(512) })).resolves.toBeUndefined();
      const result = await limited.bulkPublish([
        { topic, data: randomBytes(10) },
        { topic, data: randomBytes(4096) },
      ]);
      expect(result.failed.map((f) => f.index)).toEqual([1]);
    } finally {
      await limited.close();
    }
  });

  it('init fails naming unreachable brokers, quickly', async () => {
    const started = Date.now();
    await expect(openPubSub(metadata({ brokers: '127.0.0.1:1' }))).rejects.toThrow(/127\.0\.0\.1:1/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('init rejects bad metadata naming the field', async () => {
    await expect(openPubSub({})).rejects.toThrow(ConfigError);
    await expect(openPubSub({})).rejects.toThrow(/spec\.metadata\.brokers: brokers is required/);
    await expect(openPubSub(metadata({ brokers: 'localhost' }))).rejects.toThrow(/"localhost" is not host:port/);
    await expect(openPubSub(metadata({ initialOffset: 'latest' }))).rejects.toThrow(/spec\.metadata\.initialOffset/);
    await expect(openPubSub(metadata({ authType: 'password' }))).rejects.toThrow(/spec\.metadata\.saslUsername/);
    await expect(openPubSub(metadata({ consumeRetryInterval: 'soon' }))).rejects.toThrow(/spec\.metadata\.consumeRetryInterval/);
  });
});
