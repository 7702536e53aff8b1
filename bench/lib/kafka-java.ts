import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/*
 * Kafka's own tools as yardsticks that are not kafkajs, run against the same broker in the same
 * bench run: org.apache.kafka.tools.EndToEndLatency (what `kafka-e2e-latency.sh` runs),
 * ProducerPerformance and ConsumerPerformance from the kafka-tools jar of the broker's version
 * (fetched once by `bash scripts/services.sh kafka-tools` into the broker's jar cache).
 */

const ROOT = join(__dirname, '../..');
/** Where the project's sources are, whether this runs from dist/bench/lib or bench/lib. */
const SOURCE_ROOT = existsSync(join(ROOT, 'bench/java')) ? ROOT : join(ROOT, '..');

export interface JavaYardsticks {
  /** Kafka's EndToEndLatency as printed: average (ms, 2 decimals) and whole-millisecond percentiles (floored). */
  readonly tool: { readonly avgMs: number; readonly p50Ms: number; readonly p99Ms: number };
  /** The same loop timed in microseconds (bench/java/EndToEndLatencyNs.java). */
  readonly e2e: { readonly p50Ms: number; readonly p90Ms: number; readonly p99Ms: number; readonly avgMs: number };
  /** ProducerPerformance (acks=all, 1 KiB records, unthrottled): records/s. */
  readonly producerPerSec: number;
  /** ConsumerPerformance over what the producer wrote: records/s (nMsg.sec). */
  readonly consumerPerSec: number;
}

/** The directory of the broker's jars with kafka-tools among them (SIDEKICK_KAFKA_TOOLS_LIB, else fetched/found by scripts/services.sh). */
export function kafkaToolsLib(): string {
  const fromEnv = process.env['SIDEKICK_KAFKA_TOOLS_LIB'];
  if (fromEnv) return fromEnv;
  const script = join(SOURCE_ROOT, 'scripts/services.sh');
  try {
    return execFileSync('bash', [script, 'kafka-tools'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch (err) {
    throw new Error(`bench: Kafka's tools are needed for the Kafka yardsticks: \`bash scripts/services.sh kafka-tools\` failed (${String(err)})`);
  }
}

function java(lib: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'java',
      ['-Xmx256m', '-Dlog4j2.level=warn', '-cp', `${lib}/*`, ...args],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, cwd: SOURCE_ROOT },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`java ${args.slice(0, 2).join(' ')} failed: ${String(err)}\n${stderr.slice(-2000)}`));
        else resolve(stdout);
      },
    );
  });
}

function field(text: string, re: RegExp, what: string): number {
  const m = re.exec(text);
  if (!m?.[1]) throw new Error(`bench: no ${what} in the output of Kafka's tool:\n${text.slice(-1500)}`);
  return Number(m[1]);
}

/**
 * Runs the Java yardsticks one after another on `brokers` (topics named after `run`): EndToEndLatency
 * and its microsecond copy with `latencyRecords` records of 1 KiB (acks=all), then ProducerPerformance
 * with `perfRecords` records of 1 KiB and ConsumerPerformance reading them.
 */
export async function runJavaYardsticks(brokers: string, run: string, latencyRecords: number, perfRecords: number): Promise<JavaYardsticks> {
  const lib = kafkaToolsLib();
  const timeout = 180_000;
  const tool = await java(lib, ['org.apache.kafka.tools.EndToEndLatency', brokers, `bench-java-e2e-${run}`, String(latencyRecords), 'all', '1024'], timeout);
  const ns = await java(
    lib,
    [join(SOURCE_ROOT, 'bench/java/EndToEndLatencyNs.java'), brokers, `bench-java-e2e-ns-${run}`, String(latencyRecords), 'all', '1024'],
    timeout,
  );
  const perfTopic = `bench-java-perf-${run}`;
  const producer = await java(
    lib,
    [
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      perfTopic,
      '--num-records',
      String(perfRecords),
      '--record-size',
      '1024',
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${brokers}`,
      'acks=all',
    ],
    timeout,
  );
  const consumer = await java(
    lib,
    ['org.apache.kafka.tools.ConsumerPerformance', '--bootstrap-server', brokers, '--topic', perfTopic, '--messages', String(perfRecords)],
    timeout,
  );
  // ConsumerPerformance prints a CSV header and one row: ..., data.consumed.in.nMsg, nMsg.sec, ...
  const lines = consumer.trim().split('\n');
  const header = lines.findIndex((l) => l.includes('nMsg.sec'));
  const names = (lines[header] ?? '').split(',').map((s) => s.trim());
  const values = (lines[header + 1] ?? '').split(',').map((s) => s.trim());
  const consumerPerSec = Number(values[names.indexOf('nMsg.sec')]);
  if (!Number.isFinite(consumerPerSec)) throw new Error(`bench: no nMsg.sec in ConsumerPerformance's output:\n${consumer.slice(-1500)}`);
  return {
    tool: {
      avgMs: field(tool, /Avg latency: ([\d.]+) ms/, 'average latency'),
      p50Ms: field(tool, /50th = (\d+)/, '50th percentile'),
      p99Ms: field(tool, /99th = (\d+)/, '99th percentile'),
    },
    e2e: {
      p50Ms: field(ns, /p50_us=([\d.]+)/, 'p50') / 1000,
      p90Ms: field(ns, /p90_us=([\d.]+)/, 'p90') / 1000,
      p99Ms: field(ns, /p99_us=([\d.]+)/, 'p99') / 1000,
      avgMs: field(ns, /avg_us=([\d.]+)/, 'average') / 1000,
    },
    producerPerSec: field(producer, /([\d.]+) records\/sec/, 'records/sec'),
    consumerPerSec,
  };
}

/** The topics runJavaYardsticks creates (for cleanup). */
export function javaTopics(run: string): string[] {
  return [`bench-java-e2e-${run}`, `bench-java-e2e-ns-${run}`, `bench-java-perf-${run}`];
}

/**
 * The broker JVM's CPU seconds so far (utime + stime of /proc/PID/stat), for the broker listening on
 * `port` on this machine: the java process running kafka.Kafka whose server.properties names that
 * listener. Undefined when it is not found (another machine, not Linux): the bench then prints node CPU only.
 */
export function kafkaBrokerCpu(port: number): (() => Promise<number | undefined>) | undefined {
  const pid = findBroker(port);
  if (pid === undefined) return undefined;
  const ticks = 100; // USER_HZ on Linux
  return () => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Promise.resolve((Number(fields[11]) + Number(fields[12])) / ticks);
    } catch {
      return Promise.resolve(undefined);
    }
  };
}

function findBroker(port: number): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('kafka.Kafka');
      const config = at >= 0 ? args[at + 1] : undefined;
      if (config && new RegExp(`^listeners=PLAINTEXT://[^:,]+:${port}\\b`, 'm').test(readFileSync(config, 'utf8'))) return Number(pid);
    } catch {
      // a process that ended meanwhile, or not ours to read
    }
  }
  return undefined;
}
