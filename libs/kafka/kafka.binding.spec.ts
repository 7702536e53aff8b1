import { randomUUID } from 'node:crypto';
import { Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import { ConfigError } from '../../src/errors/config.errors';
import { SystemClock } from '../../src/runtime/time/system.clock';
import type { BindingEvent } from '../../src/spi/binding';
import { isInputBinding, isOutputBinding } from '../../src/spi/binding';
import type { ComponentMetadata } from '../../src/spi/component';
import { noopLogger } from '../../test/support/logger';
import { deleteKafkaTopics, kafkaBrokers, requireKafka } from '../../test/support/services';
import { type KafkaBinding, kafkaBindingFactory } from './kafka.binding';
import { eventually } from '../../test/support/collector';
import { componentInit } from '../../src/spi/metadata-reader';

const run = randomUUID().slice(0, 8);
const created: string[] = [];
const topicName = (name: string): string => {
  const topic = `sidekick-binding-${name}-${run}`;
  created.push(topic);
  return topic;
};

const rawKafka = (): Kafka => new Kafka({ brokers: kafkaBrokers().split(','), clientId: 'sidekick-test-raw', logLevel: logLevel.NOTHING });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const waitFor = (what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> => eventually(done, timeoutMs, what);

const bindings: KafkaBinding[] = [];

async function openBinding(metadata: ComponentMetadata): Promise<KafkaBinding> {
  const binding = kafkaBindingFactory.create();
  await binding.init(
    componentInit({
      name: 'kafka-binding',
      type: 'bindings.kafka',
      appId: 'app',
      metadata,
      clock: new SystemClock(),
      logger: noopLogger,
      source: 'components/kafka.yaml',
    }),
  );
  bindings.push(binding);
  return binding;
}

describe('bindings.kafka', () => {
  beforeAll(async () => {
    await requireKafka();
  });

  afterAll(async () => {
    await Promise.all(bindings.map((binding) => binding.close()));
    await deleteKafkaTopics(created);
  }, 30_000);

  it('output create: produces data to publishTopic with the key and headers from metadata', async () => {
    const topic = topicName('out');
    const binding = await openBinding({ brokers: kafkaBrokers(), publishTopic: topic, direction: 'output' });
    expect(isOutputBinding(binding)).toBe(true);
    expect(binding.operations).toEqual(['create']);
    await expect(binding.invoke({ operation: 'create', data: Buffer.from('hello'), metadata: { key: 'k-9', source: 'spec' } })).resolves.toEqual({});

    const consumer = rawKafka().consumer({ groupId: `raw-${randomUUID()}`, maxWaitTimeInMs: 200 });
    const got: KafkaMessage[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void got.push(message) });
      await waitFor('the record', () => got.length >= 1);
    } finally {
      await consumer.disconnect();
    }
    expect(got[0]?.value?.toString()).toBe('hello');
    expect(got[0]?.key?.toString()).toBe('k-9');
    expect(got[0]?.headers?.source?.toString()).toBe('spec');
    await expect(binding.invoke({ operation: 'delete', data: Buffer.alloc(0), metadata: {} })).rejects.toThrow(/does not support operation delete/);
  });

  it('input: the handler gets raw records with topic, partition, offset, key and headers; a rejected one comes again, in order', async () => {
    const topic = topicName('in');
    const binding = await openBinding({ brokers: kafkaBrokers(), topics: topic, consumerGroup: 'binding-in', consumeRetryInterval: '50' });
    expect(isInputBinding(binding)).toBe(true);
    const events: BindingEvent[] = [];
    let failures = 0;
    const handle = await binding.read(async (event) => {
      events.push(event);
      if (event.data.toString() === 'first' && failures < 2) {
        failures += 1;
        throw new Error('try again');
      }
      return undefined;
    });
    const producer = rawKafka().producer();
    await producer.connect();
    try {
      await producer.send({
        topic,
        messages: [
          { key: 'same', value: 'first', headers: { h: '1' } },
          { key: 'same', value: 'second' },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    await waitFor('both records handled', () => events.filter((e) => e.data.toString() === 'second').length >= 1);
    await handle.close();
    expect(events.map((e) => e.data.toString())).toEqual(['first', 'first', 'first', 'second']);
    expect(events[0]?.metadata).toMatchObject({ topic, key: 'same', h: '1' });
    expect(events[0]?.metadata.partition).toMatch(/^[0-2]$/);
    expect(events[3]?.metadata.offset).toBe(String(Number(events[0]?.metadata.offset) + 1));
  });

  it('input: what was handled is committed; a new reader of the group starts after it', async () => {
    const topic = topicName('commit');
    const md = { brokers: kafkaBrokers(), topics: topic, consumerGroup: 'binding-commit' };
    const first = await openBinding(md);
    const seen: string[] = [];
    const handle = await first.read(async (event) => void seen.push(event.data.toString()));
    const out = await openBinding({ brokers: kafkaBrokers(), publishTopic: topic });
    await out.invoke({ operation: 'create', data: Buffer.from('one'), metadata: { key: 'k' } });
    await waitFor('one', () => seen.length === 1);
    await handle.close();
    await out.invoke({ operation: 'create', data: Buffer.from('two'), metadata: { key: 'k' } });
    const second = await openBinding(md);
    const later: string[] = [];
    await second.read(async (event) => void later.push(event.data.toString()));
    await waitFor('two', () => later.length >= 1);
    await sleep(200);
    expect(later).toEqual(['two']);
  });

  it('rejects bad metadata naming the field', async () => {
    await expect(openBinding({ topics: 'x' })).rejects.toThrow(ConfigError);
    await expect(openBinding({ topics: 'x' })).rejects.toThrow('components/kafka.yaml: component "kafka-binding": spec.metadata.brokers: brokers is required');
    await expect(openBinding({ brokers: kafkaBrokers() })).rejects.toThrow(/spec\.metadata\.topics: set topics .* and\/or publishTopic/);
    await expect(openBinding({ brokers: kafkaBrokers(), direction: 'input' })).rejects.toThrow(/spec\.metadata\.topics: topics is required/);
    await expect(openBinding({ brokers: kafkaBrokers(), topics: 'x', direction: 'output' })).rejects.toThrow(/spec\.metadata\.publishTopic/);
    await expect(openBinding({ brokers: kafkaBrokers(), topics: 'x', direction: 'sideways' })).rejects.toThrow(/spec\.metadata\.direction/);
  });

  it('an output-only binding refuses read(), an input-only one refuses invoke()', async () => {
    const out = await openBinding({ brokers: kafkaBrokers(), publishTopic: topicName('only-out') });
    await expect(out.read(async () => undefined)).rejects.toThrow(/not an input binding/);
    const input = await openBinding({ brokers: kafkaBrokers(), topics: topicName('only-in') });
    await expect(input.invoke({ operation: 'create', data: Buffer.from('x'), metadata: {} })).rejects.toThrow(/not an output binding/);
  });
});
