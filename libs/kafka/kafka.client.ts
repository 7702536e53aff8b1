import type { Admin, IHeaders, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { BackendError, SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import { withDeadline } from '../../src/spi/clock';
import type { SidekickLogger } from '../../src/spi/logger';
import { type KafkaSettings, kafkaClientConfig } from './kafka.config';
import { SendQueue } from './kafka.send-queue';

type KafkaJs = typeof import('kafkajs');

/** Request metadata that names the record key (Dapr accepts `partitionKey` and `__key`); never sent as headers. */
const KEY_FIELDS = ['partitionKey', '__key', 'key'];

/**
 * One component's connection to the cluster: the kafkajs client, an admin client (metadata and
 * topic creation) and a producer connected on first use. Consumers are made per subscription.
 */
export class KafkaClient {
  readonly kafka: Kafka;
  readonly admin: Admin;
  private producer?: Promise<Producer>;
  private readonly topics = new Map<string, Promise<void>>();
  private readonly queues = new Map<string, SendQueue>();
  private closed = false;

  private constructor(
    readonly component: string,
    readonly settings: KafkaSettings,
    readonly logger: SidekickLogger,
    private readonly driver: KafkaJs,
  ) {
    this.kafka = new driver.Kafka(kafkaClientConfig(settings, logger, driver.logLevel));
    this.admin = this.kafka.admin();
  }

  /** Connects the admin client and fetches cluster metadata, or fails naming the brokers. */
  static async connect(component: string, settings: KafkaSettings, logger: SidekickLogger): Promise<KafkaClient> {
    // Loaded on first use: an app without a Kafka component never pays for kafkajs (about 85 ms and 12 MB).
    const client = new KafkaClient(component, settings, logger, await import('kafkajs'));
    try {
      await withDeadline(20_000, async () => {
        await client.admin.connect();
        await client.admin.describeCluster();
      });
    } catch (err) {
      await client.admin.disconnect().catch(() => undefined);
      throw new BackendError(component, `kafka brokers ${settings.brokers.join(',')} are unreachable: ${errorMessage(err)}`, err);
    }
    return client;
  }

  get brokers(): string {
    return this.settings.brokers.join(',');
  }

  /** Creates `topic` (broker defaults: partitions, replication) unless it exists; once per topic. */
  ensureTopic(topic: string): Promise<void> {
    let pending = this.topics.get(topic);
    if (!pending) {
      pending = this.createTopic(topic).catch((err: unknown) => {
        this.topics.delete(topic);
        throw new BackendError(this.component, `kafka (${this.brokers}): creating topic ${topic} failed: ${errorMessage(err)}`, err);
      });
      this.topics.set(topic, pending);
    }
    return pending;
  }

  private async createTopic(topic: string): Promise<void> {
    // An existing topic needs nothing (and CreateTopics on it makes kafkajs log a warning).
    if ((await this.admin.listTopics()).includes(topic)) return;
    try {
      await this.admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    } catch (err) {
      // Not allowed to create topics (ACLs) is fine when the topic is already there.
      const exists = await this.admin.fetchTopicMetadata({ topics: [topic] }).then(
        () => true,
        () => false,
      );
      if (!exists) throw err;
    }
  }

  /**
   * Sends records to one topic with acks from all in-sync replicas; records of concurrent calls share
   * a produce request (kafka.send-queue.ts), each call resolving once its own records are acknowledged.
   */
  async send(topic: string, messages: Message[]): Promise<void> {
    if (this.closed)
      throw new SidekickError('ERR_PUBSUB_CLOSED', `kafka component ${this.component} is closed`, { component: this.component, retryable: true });
    await this.ensureTopic(topic);
    let queue = this.queues.get(topic);
    if (!queue) {
      queue = new SendQueue(async (batch) => {
        const producer = await this.connectedProducer();
        await producer.send({ topic, messages: batch, acks: -1 });
      });
      this.queues.set(topic, queue);
    }
    try {
      await queue.push(
        messages,
        messages.reduce((n, m) => n + recordSize(m), 0),
      );
    } catch (err) {
      if (err instanceof SidekickError) throw err;
      throw new BackendError(this.component, `kafka (${this.brokers}): publishing to ${topic} failed: ${errorMessage(err)}`, err);
    }
  }

  /** A record from bytes and request metadata: the key from `partitionKey`/`__key`/`key`, the rest as headers. */
  toMessage(data: Buffer | string, metadata: Readonly<Record<string, string>> = {}): Message {
    const key = KEY_FIELDS.map((field) => metadata[field]).find((value) => value !== undefined);
    const headers: IHeaders = {};
    for (const [name, value] of Object.entries(metadata)) if (!KEY_FIELDS.includes(name)) headers[name] = value;
    const message: Message = { value: data, headers, ...(key !== undefined ? { key } : {}) };
    const limit = this.settings.maxMessageBytes;
    if (limit !== undefined) {
      const size = recordSize(message);
      if (size > limit) {
        throw new SidekickError('ERR_MESSAGE_TOO_LARGE', `kafka message of ${size} bytes exceeds maxMessageBytes (${limit}) of component ${this.component}`, {
          component: this.component,
        });
      }
    }
    return message;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const producer = await this.producer?.catch(() => undefined);
    const quietly = (disconnect: Promise<void>): Promise<void> =>
      disconnect.catch((err: unknown) => this.logger.debug({ err }, `kafka disconnect failed: ${errorMessage(err)}`));
    await Promise.all([...(producer ? [quietly(producer.disconnect())] : []), quietly(this.admin.disconnect())]);
  }

  private connectedProducer(): Promise<Producer> {
    if (!this.producer) {
      const producer = this.kafka.producer({ createPartitioner: this.driver.Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
      this.producer = producer.connect().then(
        () => producer,
        (err: unknown) => {
          this.producer = undefined;
          throw new BackendError(this.component, `kafka brokers ${this.brokers}: producer connection failed: ${errorMessage(err)}`, err);
        },
      );
    }
    return this.producer;
  }
}

/** Key, value and headers: what `maxMessageBytes` limits (the record's framing adds a few bytes). */
function recordSize(message: Message): number {
  let size = Buffer.byteLength(message.key ?? '') + (Buffer.isBuffer(message.value) ? message.value.length : Buffer.byteLength(message.value ?? ''));
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    size += Buffer.byteLength(name) + (typeof value === 'string' || Buffer.isBuffer(value) ? Buffer.byteLength(value) : 0);
  }
  return size;
}

/**
 * What a subscriber sees of a record: its headers, then `partitionKey`/`key` (when it has a key),
 * `partition`, `offset`, and Dapr's `__key`, `__topic`, `__partition`, `__offset`, `__timestamp`.
 */
export function recordMetadata(topic: string, partition: number, message: KafkaMessage): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) metadata[name] = last.toString();
  }
  if (message.key) {
    const key = message.key.toString();
    metadata.partitionKey = key;
    metadata.key = key;
    metadata.__key = key;
  }
  metadata.partition = String(partition);
  metadata.offset = message.offset;
  metadata.__topic = topic;
  metadata.__partition = String(partition);
  metadata.__offset = message.offset;
  metadata.__timestamp = message.timestamp;
  return metadata;
}
