import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { SidekickClient, SidekickModule, subscribe, type TopicEvent } from '../src';
import { javaTopics, type JavaYardsticks, kafkaBrokerCpu, runJavaYardsticks } from './lib/kafka-java';
import { latencyRound, type Payload, type Publish, RawKafka, RawRedisStream, Recorder, throughputRound } from './lib/pubsub-raw';
import { REDIS_HOST, REDIS_PORT } from './lib/redis';
import { fmtRatio, type Metric, printComparison, round, table, TARGETS } from './lib/report';
import { type Comparison, envInt, pairedRatios } from './lib/runner';
import { silentLogger } from './lib/sidekick-app';
import { median, medianStats, type RoundStats } from './lib/stats';

/*
 * Pub/sub: publish -> handler, 1 KiB JSON events, in one process.
 *
 *   Sidekick: SidekickClient.publish -> component -> broker -> component -> runtime -> @Subscribe handler
 *   raw:      ioredis XADD / XREADGROUP / XACK loop, or kafkajs producer / eachBatch consumer with a
 *             commit after the handlers per batch (bench/lib/pubsub-raw.ts), with a CloudEvent envelope
 *             of the same fields and size, parsed on receipt.
 *
 * Throughput rounds: N events from 32 concurrent publishers; events/s = N / (first publish call ..
 * last handler entry). Latency rounds: one event at a time, publish call -> handler entry (the
 * publish time travels in the payload). Sidekick and raw rounds alternate (A B A B ...), all
 * throughput rounds first, then all latency rounds; ratios are medians over adjacent pairs.
 */

const KAFKA_BROKERS = (process.env['SIDEKICK_BENCH_KAFKA_BROKERS'] ?? process.env['SIDEKICK_TEST_KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const WINDOW = 32;
const REDIS_CONCURRENCY = 16;
/** One handler per partition at a time on both sides (the broker's default num.partitions is 3). */
const KAFKA_CONCURRENCY = 3;

export const PUBSUB_TARGETS = TARGETS.filter((t) => t.id.startsWith('pubsub.'));

const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;
function settle(): void {
  gc?.();
  gc?.();
}

interface SidekickSide {
  readonly client: SidekickClient;
  readonly recorders: { readonly memory: Recorder; readonly redis: Recorder; readonly kafka: Recorder };
  close(): Promise<void>;
}

/** A Nest application context with SidekickModule: pub/subs memory, redis and kafka, one @Subscribe handler each. */
async function startSidekick(topics: { memory: string; redis: string; kafka: string }, backends: ReadonlySet<string>): Promise<SidekickSide> {
  const recorders = { memory: new Recorder(), redis: new Recorder(), kafka: new Recorder() };
  @Injectable()
  class Handlers {
    onMemory(event: TopicEvent<Payload>): void {
      recorders.memory.hit(event.data);
    }
    onRedis(event: TopicEvent<Payload>): void {
      recorders.redis.hit(event.data);
    }
    onKafka(event: TopicEvent<Payload>): void {
      recorders.kafka.hit(event.data);
    }
  }
  if (backends.has('memory')) subscribe(Handlers, 'onMemory', { pubsub: 'memory', topic: topics.memory, concurrency: REDIS_CONCURRENCY });
  if (backends.has('redis')) subscribe(Handlers, 'onRedis', { pubsub: 'redis', topic: topics.redis, concurrency: REDIS_CONCURRENCY });
  if (backends.has('kafka')) subscribe(Handlers, 'onKafka', { pubsub: 'kafka', topic: topics.kafka, concurrency: KAFKA_CONCURRENCY });

  const kafka = {
    metadata: { name: 'kafka' },
    spec: {
      type: 'pubsub.kafka',
      version: 'v1',
      metadata: [
        { name: 'brokers', value: KAFKA_BROKERS.join(',') },
        { name: 'initialOffset', value: 'oldest' },
      ],
    },
  };
  const components = [
    { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
    { metadata: { name: 'memory' }, spec: { type: 'pubsub.in-memory', version: 'v1' } },
    { metadata: { name: 'redis' }, spec: { type: 'pubsub.redis', version: 'v1', metadata: [{ name: 'redisHost', value: `${REDIS_HOST}:${REDIS_PORT}` }] } },
    ...(backends.has('kafka') ? [kafka] : []),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'sidekick-bench-pubsub-'));
  @Module({
    imports: [
      SidekickModule.forRoot({
        appId: 'bench-pubsub',
        resourcesPath: dir,
        dataDir: dir,
        components,
        httpApi: { enabled: false },
        // As the other benchmarks: no interceptor installed, so the ratios compare the pub/sub paths themselves
        // (metrics are on by default in apps; their cost on this path is in bench/RESULTS.md).
        metrics: { enabled: false },
        nameResolution: { localRegistry: false },
        logger: silentLogger,
      }),
    ],
    providers: [Handlers],
  })
  class PubSubBenchModule {}

  const app = await NestFactory.createApplicationContext(PubSubBenchModule, { logger: false });
  await app.init();
  return {
    client: app.get(SidekickClient),
    recorders,
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Side {
  readonly label: string;
  readonly publish: Publish;
  readonly recorder: Recorder;
}

/** CPU time (µs) this process and, when known, the broker spent per event over each round. */
interface CpuPerEvent {
  readonly node: number[];
  readonly server: number[];
}

/** Reads the broker's total CPU seconds (Redis: INFO cpu), or nothing. */
type ServerCpu = () => Promise<number | undefined>;

/** Runs one round, recording CPU per event next to its statistics. */
async function measured(run: () => Promise<RoundStats>, cpu: CpuPerEvent, serverCpu?: ServerCpu): Promise<RoundStats> {
  const s0 = await serverCpu?.();
  const c0 = process.cpuUsage();
  const stats = await run();
  const c1 = process.cpuUsage(c0);
  const s1 = await serverCpu?.();
  cpu.node.push((c1.user + c1.system) / stats.ops);
  if (s0 !== undefined && s1 !== undefined) cpu.server.push(((s1 - s0) * 1e6) / stats.ops);
  return stats;
}

function fmtCpu(label: string, cpu: CpuPerEvent): string {
  const server = cpu.server.length > 0 ? `, broker ${median(cpu.server).toFixed(1)} us` : '';
  return `${label}: node ${median(cpu.node).toFixed(1)} us${server}`;
}

/** Alternating rounds A B A B ... of `run`, as a Comparison (per-side medians, adjacent-pair ratios). */
async function alternate(
  name: string,
  concurrency: number,
  a: Side,
  b: Side,
  rounds: number,
  run: (side: Side) => Promise<RoundStats>,
  serverCpu?: ServerCpu,
): Promise<Compared> {
  const ra: RoundStats[] = [];
  const rb: RoundStats[] = [];
  const sequence: RoundStats[] = [];
  const cpuA: CpuPerEvent = { node: [], server: [] };
  const cpuB: CpuPerEvent = { node: [], server: [] };
  for (let r = 0; r < rounds; r++) {
    settle();
    const x = await measured(() => run(a), cpuA, serverCpu);
    settle();
    const y = await measured(() => run(b), cpuB, serverCpu);
    ra.push(x);
    rb.push(y);
    sequence.push(x, y);
  }
  const comparison: Comparison = {
    name,
    concurrency,
    a: { label: a.label, median: medianStats(ra), rounds: ra },
    b: { label: b.label, median: medianStats(rb), rounds: rb },
    paired: pairedRatios(sequence),
  };
  printComparison(comparison);
  process.stdout.write(`CPU per event (median of rounds): ${fmtCpu(a.label, cpuA)}; ${fmtCpu(b.label, cpuB)}\n`);
  const broker = cpuA.server.length > 0 && cpuB.server.length > 0 ? { brokerA: median(cpuA.server), brokerB: median(cpuB.server) } : {};
  return { ...comparison, cpuUs: { a: median(cpuA.node), b: median(cpuB.node), ...broker } };
}

/** A Comparison with the CPU time per event (µs, median of rounds) of each side: this process, and the broker when known. */
type Compared = Comparison & {
  readonly cpuUs: { readonly a: number; readonly b: number; readonly brokerA?: number; readonly brokerB?: number };
};

interface BackendOptions {
  readonly events: number;
  readonly latencyOps: number;
  readonly rounds: number;
  /** Latency rounds (default `rounds`): more, shorter ones where one round's p50 swings with the scheduler. */
  readonly latencyRounds?: number;
  readonly warmupEvents: number;
  readonly timeoutMs: number;
}

async function compareBackend(backend: string, a: Side, b: Side, o: BackendOptions, serverCpu?: ServerCpu): Promise<{ tput: Compared; lat: Compared }> {
  for (const side of [a, b]) {
    await throughputRound(`${backend} ${side.label} warm-up`, side.publish, side.recorder, o.warmupEvents, WINDOW, o.timeoutMs);
    await latencyRound(`${backend} ${side.label} warm-up`, side.publish, side.recorder, Math.ceil(o.latencyOps / 4), o.timeoutMs);
  }
  const tput = await alternate(
    `pubsub.${backend} throughput (${o.events} events from ${WINDOW} publishers per round)`,
    WINDOW,
    a,
    b,
    o.rounds,
    (side) => throughputRound(`${backend} ${side.label}`, side.publish, side.recorder, o.events, WINDOW, o.timeoutMs),
    serverCpu,
  );
  const lat = await alternate(
    `pubsub.${backend} latency, publish call -> handler entry (one event at a time)`,
    1,
    a,
    b,
    o.latencyRounds ?? o.rounds,
    (side) => latencyRound(`${backend} ${side.label}`, side.publish, side.recorder, o.latencyOps, o.timeoutMs),
    serverCpu,
  );
  return { tput, lat };
}

function backendMetrics(backend: string, tput: Comparison, lat: Comparison): Metric[] {
  return [
    { id: `pubsub.${backend}.throughput_ratio`, value: round(tput.paired.opsPerSec), unit: 'x' },
    { id: `pubsub.${backend}.p50_ratio`, value: round(lat.paired.p50), unit: 'x' },
    { id: `pubsub.${backend}.p99_ratio`, value: round(lat.paired.p99), unit: 'x' },
    { id: `pubsub.${backend}.sidekick_events_per_s`, value: Math.round(tput.a.median.opsPerSec), unit: 'events/s' },
    { id: `pubsub.${backend}.raw_events_per_s`, value: Math.round(tput.b.median.opsPerSec), unit: 'events/s' },
    { id: `pubsub.${backend}.sidekick_p50_ms`, value: round(lat.a.median.p50Ms, 4), unit: 'ms' },
    { id: `pubsub.${backend}.raw_p50_ms`, value: round(lat.b.median.p50Ms, 4), unit: 'ms' },
    { id: `pubsub.${backend}.sidekick_p99_ms`, value: round(lat.a.median.p99Ms, 4), unit: 'ms' },
    { id: `pubsub.${backend}.raw_p99_ms`, value: round(lat.b.median.p99Ms, 4), unit: 'ms' },
  ];
}

/**
 * Sidekick's Kafka figures next to Kafka's own tools of the same run: publish -> handler p50 over the
 * Java end-to-end p50 (send -> poll, microsecond copy of EndToEndLatency), events/s delivered from 32
 * publishers next to ProducerPerformance / ConsumerPerformance, CPU per event.
 */
function kafkaJavaMetrics(tput: Compared, lat: Compared, java: JavaYardsticks): Metric[] {
  const p50 = lat.a.median.p50Ms;
  const rows = [
    ['', 'p50 ms', 'p90 ms', 'p99 ms', 'avg ms', 'events/s', 'node CPU us/event', 'broker CPU us/event'],
    [
      'sidekick publish -> handler',
      p50.toFixed(3),
      lat.a.median.p90Ms.toFixed(3),
      lat.a.median.p99Ms.toFixed(3),
      '',
      Math.round(tput.a.median.opsPerSec).toLocaleString('en-US'),
      tput.cpuUs.a.toFixed(1),
      tput.cpuUs.brokerA?.toFixed(1) ?? '',
    ],
    [
      'raw kafkajs',
      lat.b.median.p50Ms.toFixed(3),
      lat.b.median.p90Ms.toFixed(3),
      lat.b.median.p99Ms.toFixed(3),
      '',
      Math.round(tput.b.median.opsPerSec).toLocaleString('en-US'),
      tput.cpuUs.b.toFixed(1),
      tput.cpuUs.brokerB?.toFixed(1) ?? '',
    ],
    ['java EndToEndLatency (us copy)', java.e2e.p50Ms.toFixed(3), java.e2e.p90Ms.toFixed(3), java.e2e.p99Ms.toFixed(3), java.e2e.avgMs.toFixed(3), '', '', ''],
    ['java EndToEndLatency (as printed)', `${java.tool.p50Ms} (floored)`, '', `${java.tool.p99Ms} (floored)`, java.tool.avgMs.toFixed(3), '', '', ''],
    ['java ProducerPerformance', '', '', '', '', Math.round(java.producerPerSec).toLocaleString('en-US'), '', ''],
    ['java ConsumerPerformance', '', '', '', '', Math.round(java.consumerPerSec).toLocaleString('en-US'), '', ''],
  ];
  process.stdout.write(`\npubsub.kafka against Kafka's own tools (same broker, same run)\n${table(rows)}`);
  return [
    { id: 'pubsub.kafka.p50_ms_ratio_to_java_e2e', value: round(p50 / java.e2e.p50Ms), unit: 'x' },
    { id: 'pubsub.kafka.p50_ms', value: round(p50, 4), unit: 'ms' },
    { id: 'pubsub.kafka.p99_ms', value: round(lat.a.median.p99Ms, 4), unit: 'ms' },
    { id: 'pubsub.kafka.events_per_s', value: Math.round(tput.a.median.opsPerSec), unit: 'events/s' },
    { id: 'pubsub.kafka.node_cpu_us_per_event', value: round(tput.cpuUs.a, 1), unit: 'us' },
    { id: 'pubsub.kafka.raw_node_cpu_us_per_event', value: round(tput.cpuUs.b, 1), unit: 'us' },
    ...(tput.cpuUs.brokerA !== undefined && tput.cpuUs.brokerB !== undefined
      ? [
          { id: 'pubsub.kafka.broker_cpu_us_per_event', value: round(tput.cpuUs.brokerA, 1), unit: 'us' },
          { id: 'pubsub.kafka.raw_broker_cpu_us_per_event', value: round(tput.cpuUs.brokerB, 1), unit: 'us' },
        ]
      : []),
    { id: 'pubsub.kafka.java_e2e_p50_ms', value: round(java.e2e.p50Ms, 4), unit: 'ms' },
    { id: 'pubsub.kafka.java_e2e_p99_ms', value: round(java.e2e.p99Ms, 4), unit: 'ms' },
    { id: 'pubsub.kafka.java_e2e_tool_avg_ms', value: round(java.tool.avgMs, 4), unit: 'ms' },
    { id: 'pubsub.kafka.java_e2e_tool_p50_ms_floored', value: java.tool.p50Ms, unit: 'ms' },
    { id: 'pubsub.kafka.java_e2e_tool_p99_ms_floored', value: java.tool.p99Ms, unit: 'ms' },
    { id: 'pubsub.kafka.java_producer_records_per_s', value: Math.round(java.producerPerSec), unit: 'records/s' },
    { id: 'pubsub.kafka.java_consumer_records_per_s', value: Math.round(java.consumerPerSec), unit: 'records/s' },
  ];
}

function verdicts(metrics: readonly Metric[]): void {
  const rows = [['target', 'value', 'wanted', 'verdict']];
  for (const t of PUBSUB_TARGETS) {
    const m = metrics.find((x) => x.id === t.id);
    if (!m) continue;
    const ok = (t.max === undefined || m.value <= t.max) && (t.min === undefined || m.value >= t.min);
    const value = m.unit === 'x' ? fmtRatio(m.value) : `${m.value} ${m.unit}`;
    rows.push([t.id, value, t.max !== undefined ? `<= ${t.max}` : `>= ${String(t.min)}`, ok ? 'met' : 'MISSED']);
  }
  process.stdout.write(`\n${table(rows)}`);
}

async function deleteKafkaTopics(topics: string[]): Promise<void> {
  const admin = new Kafka({ clientId: 'bench-cleanup', brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const gone = topics.filter((t) => existing.has(t));
    if (gone.length > 0) await admin.deleteTopics({ topics: gone, timeout: 10_000 });
  } catch (err) {
    process.stderr.write(`bench: deleting kafka topics ${topics.join(', ')} failed: ${String(err)}\n`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** `BENCH_PUBSUB_BACKENDS=redis` (comma-separated) runs only those; `npm run bench` needs all three. */
function selectedBackends(): Set<string> {
  const all = ['memory', 'redis', 'kafka'];
  const wanted = (process.env['BENCH_PUBSUB_BACKENDS'] ?? all.join(','))
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const unknown = wanted.filter((b) => !all.includes(b));
  if (unknown.length > 0) throw new Error(`BENCH_PUBSUB_BACKENDS: unknown ${unknown.join(', ')} (known: ${all.join(', ')})`);
  return new Set(wanted);
}

export async function runPubSubBench(): Promise<Metric[]> {
  const rounds = envInt('BENCH_PUBSUB_ROUNDS', 6);
  const backends = selectedBackends();
  const run = randomUUID().slice(0, 8);
  const topics = { memory: `bench-memory-${run}`, redis: `bench-redis-${run}`, kafka: `bench-kafka-${run}` };
  const rawTopics = { redis: `bench-raw-redis-${run}`, kafka: `bench-raw-kafka-${run}` };
  const metrics: Metric[] = [];

  let sidekick: SidekickSide | undefined;
  let rawRedis: RawRedisStream | undefined;
  let rawKafka: RawKafka | undefined;
  let javaRan = false;
  try {
    sidekick = await startSidekick(topics, backends);
    const { client, recorders } = sidekick;

    // In-memory: Sidekick only (there is no broker to compare with).
    if (backends.has('memory')) {
      const memoryEvents = envInt('BENCH_PUBSUB_MEMORY_EVENTS', 50_000);
      const publishMemory: Publish = (data) => client.publish('memory', topics.memory, data);
      await throughputRound('memory warm-up', publishMemory, recorders.memory, 10_000, WINDOW);
      const memoryRounds: RoundStats[] = [];
      for (let r = 0; r < rounds; r++) {
        settle();
        memoryRounds.push(await throughputRound('memory', publishMemory, recorders.memory, memoryEvents, WINDOW));
      }
      const memory = medianStats(memoryRounds);
      process.stdout.write(
        `\npubsub.memory (SidekickClient.publish -> @Subscribe, ${memoryEvents} events from ${WINDOW} publishers, ${rounds} rounds)\n` +
          `  ${Math.round(memory.opsPerSec).toLocaleString('en-US')} events/s (median); per round: ${memoryRounds.map((x) => Math.round(x.opsPerSec)).join(' ')}\n`,
      );
      metrics.push({ id: 'pubsub.memory.events_per_s', value: Math.round(memory.opsPerSec), unit: 'events/s' });
    }

    // Redis Streams.
    const rawRedisRecorder = new Recorder();
    if (backends.has('redis')) {
      rawRedis = new RawRedisStream(REDIS_HOST, REDIS_PORT, rawTopics.redis, 'bench-raw', REDIS_CONCURRENCY, (data) => rawRedisRecorder.hit(data));
      await rawRedis.start();
      const redisRaw = rawRedis;
      const redisCpu = redisRaw.serverCpu.bind(redisRaw);
      const redis = await compareBackend(
        'redis',
        { label: 'sidekick', publish: (data) => client.publish('redis', topics.redis, data), recorder: recorders.redis },
        { label: 'raw ioredis', publish: (data) => redisRaw.publish(data), recorder: rawRedisRecorder },
        {
          events: envInt('BENCH_PUBSUB_REDIS_EVENTS', 10_000),
          latencyOps: envInt('BENCH_PUBSUB_REDIS_LATENCY_OPS', 1_000),
          rounds,
          // Many short latency rounds: a round's p50 moves by up to 30% with where the scheduler puts this process and Redis.
          latencyRounds: envInt('BENCH_PUBSUB_REDIS_LATENCY_ROUNDS', 17),
          warmupEvents: 4_000,
          timeoutMs: 60_000,
        },
        redisCpu,
      );
      metrics.push(...backendMetrics('redis', redis.tput, redis.lat));
    }

    // Kafka.
    const rawKafkaRecorder = new Recorder();
    if (backends.has('kafka')) {
      // Kafka's own tools first, on the same broker (the JVMs are gone before the node rounds start).
      const java = await runJavaYardsticks(
        KAFKA_BROKERS.join(','),
        run,
        envInt('BENCH_KAFKA_JAVA_E2E_RECORDS', 5_000),
        envInt('BENCH_KAFKA_JAVA_PERF_RECORDS', 200_000),
      );
      javaRan = true;
      rawKafka = new RawKafka(KAFKA_BROKERS, rawTopics.kafka, 'bench-raw', KAFKA_CONCURRENCY, (data) => rawKafkaRecorder.hit(data));
      await rawKafka.start();
      const kafkaRaw = rawKafka;
      const kafka = await compareBackend(
        'kafka',
        { label: 'sidekick', publish: (data) => client.publish('kafka', topics.kafka, data), recorder: recorders.kafka },
        { label: 'raw kafkajs', publish: (data) => kafkaRaw.publish(data), recorder: rawKafkaRecorder },
        {
          events: envInt('BENCH_PUBSUB_KAFKA_EVENTS', 5_000),
          latencyOps: envInt('BENCH_PUBSUB_KAFKA_LATENCY_OPS', 150),
          rounds: Math.min(rounds, envInt('BENCH_PUBSUB_KAFKA_ROUNDS', 6)),
          warmupEvents: 1_000,
          timeoutMs: 90_000,
        },
        kafkaBrokerCpu(Number(KAFKA_BROKERS[0]?.split(':').pop())),
      );
      metrics.push(...backendMetrics('kafka', kafka.tput, kafka.lat), ...kafkaJavaMetrics(kafka.tput, kafka.lat, java));
    }

    const strays = Object.values(recorders).reduce((n, r) => n + r.strays, rawRedisRecorder.strays + rawKafkaRecorder.strays);
    if (strays > 0) process.stdout.write(`note: ${strays} events arrived outside their round (redelivered?)\n`);
    verdicts(metrics);
    return metrics;
  } finally {
    await rawRedis?.close().catch((err: unknown) => process.stderr.write(`bench: closing raw redis failed: ${String(err)}\n`));
    await rawKafka?.close().catch((err: unknown) => process.stderr.write(`bench: closing raw kafka failed: ${String(err)}\n`));
    if (sidekick) {
      await sidekick.close();
    }
    if (backends.has('redis')) {
      const cleanup = new Redis({ host: REDIS_HOST, port: REDIS_PORT, lazyConnect: true });
      await cleanup.connect();
      await cleanup.del(topics.redis);
      await cleanup.quit();
    }
    if (backends.has('kafka')) await deleteKafkaTopics([topics.kafka, rawTopics.kafka, ...(javaRan ? javaTopics(run) : [])]);
  }
}

if (require.main === module) {
  runPubSubBench()
    .then((metrics) => console.table(metrics))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
