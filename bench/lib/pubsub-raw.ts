import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { type Consumer, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { COMMIT_EVERY } from '../../libs/kafka/kafka.consumer';
import { summarize, type RoundStats } from './stats';

/*
 * The pub/sub benchmark's building blocks: the 1 KiB payload (carrying its publish time), the
 * recorder every handler reports to, and the raw baselines (ioredis Streams loop, kafkajs producer
 * and consumer) doing what Sidekick's components do for each event.
 */

/** What every benchmark event carries as `data`: its publish time (performance.now() ms), round and index. */
export interface Payload {
  readonly sent: number;
  readonly r: number;
  readonly i: number;
  readonly pad: string;
}

const PAD = 'x'.repeat(1024 - JSON.stringify({ sent: 123456.789012, r: 10, i: 10000, pad: '' }).length);

/** A payload of about 1 KiB of JSON, stamped with the current time: call it right before publishing. */
export function payload(r: number, i: number): Payload {
  return { sent: performance.now(), r, i, pad: PAD };
}

/**
 * Collects handler entries of one round: latency (handler entry minus `sent`) per event, the time of
 * the last one, and a promise per expected count. Events of another round (strays) are counted, not recorded.
 */
export class Recorder {
  strays = 0;
  private latencies = new Float64Array(0);
  private received = 0;
  private round = -1;
  private lastAt = 0;
  private onDone?: () => void;
  private onNext?: () => void;

  /** Starts round `r` expecting `n` events; resolves when all arrived. */
  begin(r: number, n: number): Promise<void> {
    this.latencies = new Float64Array(n);
    this.received = 0;
    this.round = r;
    return new Promise<void>((resolve) => (this.onDone = resolve));
  }

  /** Resolves at the next recorded event (closed-loop latency rounds). */
  next(): Promise<void> {
    return new Promise<void>((resolve) => (this.onNext = resolve));
  }

  /** Called at handler entry. */
  hit(data: Payload): void {
    const now = performance.now();
    if (data.r !== this.round || this.received >= this.latencies.length) {
      this.strays += 1;
      return;
    }
    this.latencies[this.received++] = (now - data.sent) * 1e6;
    this.lastAt = now;
    const next = this.onNext;
    this.onNext = undefined;
    next?.();
    if (this.received === this.latencies.length) this.onDone?.();
  }

  get count(): number {
    return this.received;
  }

  /** Latency statistics of the round; throughput over `startMs` .. the last handler entry. */
  stats(startMs: number): RoundStats {
    return summarize(this.latencies, (this.lastAt - startMs) * 1e6);
  }
}

export type Publish = (data: Payload) => Promise<unknown>;

let roundCounter = 0;

/**
 * Waits for `done`, failing after `ms`. When the timer fires, pending I/O is given its turn first
 * (setImmediate runs after the poll phase): after the whole process stalled (a loaded machine), the
 * timer and the awaited reply are both due at once, and timers run first.
 */
async function within(what: string, rec: Recorder, done: Promise<void>, expected: number, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          setImmediate(() => {
            if (rec.count < expected) reject(new Error(`${what}: ${rec.count} of ${expected} events reached the handler within ${ms} ms`));
          });
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Throughput round: `n` events published by `window` concurrent publishers (each awaits its publish
 * before the next); events/s = n / (first publish call .. last handler entry). Latencies include queueing.
 */
export async function throughputRound(what: string, publish: Publish, rec: Recorder, n: number, window: number, timeoutMs = 60_000): Promise<RoundStats> {
  const r = ++roundCounter;
  const done = rec.begin(r, n);
  let next = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) await publish(payload(r, i));
  };
  await Promise.all(Array.from({ length: window }, worker));
  await within(what, rec, done, n, timeoutMs);
  return rec.stats(start);
}

/** Latency round: one event at a time, the next published once the handler was entered. */
export async function latencyRound(what: string, publish: Publish, rec: Recorder, ops: number, timeoutMs = 60_000): Promise<RoundStats> {
  const r = ++roundCounter;
  const done = rec.begin(r, ops);
  const start = performance.now();
  for (let i = 0; i < ops; i++) {
    const entered = rec.next();
    await publish(payload(r, i));
    await within(`${what} (event ${i})`, rec, entered, i + 1, 10_000);
  }
  await within(what, rec, done, ops, timeoutMs);
  return rec.stats(start);
}

/**
 * The envelope the raw sides put on the broker: the same CloudEvent fields Sidekick writes (new id,
 * source, type, content type, data, topic, pubsubname, time), so the bytes are of the same size.
 */
export function rawEnvelope(data: Payload, topic: string): string {
  return JSON.stringify({
    specversion: '1.0',
    id: randomUUID(),
    source: 'bench-raw',
    type: 'com.dapr.event.sent',
    datacontenttype: 'application/json',
    data,
    topic,
    pubsubname: 'raw',
    time: new Date().toISOString(),
  });
}

/**
 * Raw ioredis on Redis Streams, the shape of libs/redis: XADD on the command connection; a dedicated
 * connection loops on XREADGROUP ... COUNT <free slots> BLOCK 2000; each entry is parsed (JSON) and
 * handled concurrently up to `concurrency`, then XACKed on the command connection.
 */
export class RawRedisStream {
  private readonly cmd: Redis;
  private readonly blocking: Redis;
  private held = 0;
  private stopping = false;
  private wake?: () => void;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    host: string,
    port: number,
    private readonly topic: string,
    private readonly group: string,
    private readonly concurrency: number,
    private readonly handler: (data: Payload) => void,
  ) {
    const options = { host, port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
    this.cmd = new Redis({ ...options, connectionName: 'bench-raw-pubsub' });
    this.blocking = new Redis({ ...options, connectionName: 'bench-raw-pubsub-sub' });
  }

  async start(): Promise<void> {
    await Promise.all([this.cmd.connect(), this.blocking.connect()]);
    try {
      await this.cmd.xgroup('CREATE', this.topic, this.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String(err).includes('BUSYGROUP')) throw err;
    }
    this.loop = this.readLoop();
  }

  /** The Redis server's CPU seconds so far (INFO cpu: used_cpu_user + used_cpu_sys). */
  async serverCpu(): Promise<number | undefined> {
    const info = await this.cmd.info('cpu');
    const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    const total = field('used_cpu_user') + field('used_cpu_sys');
    return Number.isFinite(total) ? total : undefined;
  }

  publish(data: Payload): Promise<unknown> {
    return this.cmd.xadd(this.topic, '*', 'data', rawEnvelope(data, this.topic));
  }

  private async readLoop(): Promise<void> {
    const consumer = `bench-raw-${process.pid}`;
    while (!this.stopping) {
      const free = this.concurrency - this.held;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await this.blocking.xreadgroup('GROUP', this.group, consumer, 'COUNT', free, 'BLOCK', 2000, 'STREAMS', this.topic, '>')) as typeof reply;
      } catch (err) {
        if (this.stopping) return;
        throw err;
      }
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          this.held += 1;
          void this.handle(id, fields);
        }
      }
    }
  }

  private async handle(id: string, fields: string[]): Promise<void> {
    let handled = false;
    try {
      const at = fields.indexOf('data');
      const event = JSON.parse(fields[at + 1] ?? '') as { data: Payload };
      this.handler(event.data);
      handled = true;
    } catch {
      // left pending, as the component does
    }
    if (handled) await this.cmd.xack(this.topic, this.group, id);
    this.held -= 1;
    this.wake?.();
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.blocking.disconnect();
    await this.loop.catch(() => undefined);
    await this.cmd.del(this.topic);
    await this.cmd.quit();
  }
}

/**
 * Raw kafkajs as usually written: a producer (default partitioner, acks from all in-sync replicas,
 * one send() per publish) and a consumer in its own group with the component's fetch/session
 * settings, handling `partitionsConsumedConcurrently` partitions at once with eachBatch, parsing
 * each record (JSON), and awaiting a commit after the handlers at the end of each batch and every
 * COMMIT_EVERY records within one (the component's bound). The component itself now commits in the
 * background and shares produce requests (libs/kafka); Kafka's own Java tools (kafka-java.ts) are
 * the yardstick for what the broker can do.
 */
export class RawKafka {
  private readonly kafka: Kafka;
  private producer?: Producer;
  private consumer?: Consumer;

  constructor(
    brokers: readonly string[],
    private readonly topic: string,
    private readonly group: string,
    private readonly concurrency: number,
    private readonly handler: (data: Payload) => void,
  ) {
    this.kafka = new Kafka({ clientId: 'bench-raw', brokers: [...brokers], connectionTimeout: 3000, requestTimeout: 15_000, logLevel: logLevel.WARN });
  }

  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: this.topic }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    this.producer = this.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
    await this.producer.connect();
    const consumer = this.kafka.consumer({
      groupId: this.group,
      sessionTimeout: 10_000,
      heartbeatInterval: 3000,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.concurrency,
      eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, isRunning, isStale }) => {
        const { topic, partition } = batch;
        let handled: string | undefined;
        let count = 0;
        const commit = async (): Promise<void> => {
          if (handled === undefined || isStale()) return;
          const offset = (BigInt(handled) + 1n).toString();
          handled = undefined;
          count = 0;
          await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
        };
        for (const message of batch.messages) {
          if (!isRunning() || isStale()) break;
          const event = JSON.parse(message.value?.toString('utf8') ?? '') as { data: Payload };
          this.handler(event.data);
          resolveOffset(message.offset);
          handled = message.offset;
          if (++count >= COMMIT_EVERY) await commit();
        }
        await commit();
      },
    });
  }

  async publish(data: Payload): Promise<unknown> {
    return (this.producer as Producer).send({ topic: this.topic, messages: [{ value: rawEnvelope(data, this.topic) }], acks: -1 });
  }

  async close(): Promise<void> {
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }
}
