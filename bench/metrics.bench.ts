import { jsonValue } from './lib/redis';
import { type Metric, printComparison, round } from './lib/report';
import { compare, envInt } from './lib/runner';
import { type BenchApp, startBenchApp } from './lib/sidekick-app';

const KEYS = 64;

/**
 * The cost of metrics: state get through `SidekickClient` (`state.redis`, 1 KiB JSON) in an app
 * with metrics on (the default: the metrics interceptor around every component call) against the
 * same app with metrics off, interleaved in one process.
 */
export async function runMetricsBench(): Promise<Metric[]> {
  // Many short rounds (A/B alternating): drift on this noisy machine is shared by adjacent rounds, and the median of 41 pairs is steadier than of 9.
  const ops = envInt('BENCH_METRICS_OPS', 4_000);
  const rounds = envInt('BENCH_METRICS_ROUNDS', 21);
  const warmup = envInt('BENCH_METRICS_WARMUP', 5_000);
  const value = jsonValue(1024);
  let on: BenchApp | undefined;
  let off: BenchApp | undefined;
  try {
    on = await startBenchApp({ metrics: true });
    off = await startBenchApp();
    const keys = Array.from({ length: KEYS }, (_, i) => `metrics-get-${i}`);
    const withMetrics = on.client.state<Record<string, unknown>>('statestore');
    const without = off.client.state<Record<string, unknown>>('statestore');
    for (const key of keys) await without.save(key, value);
    const c = await compare(
      'state.get with metrics on vs off (SidekickClient, state.redis, 1 KiB JSON)',
      { label: 'metrics on', op: (i) => withMetrics.get(keys[i % KEYS] as string) },
      { label: 'metrics off', op: (i) => without.get(keys[i % KEYS] as string) },
      { ops, concurrency: 1, rounds, warmup },
    );
    printComparison(c);
    return [
      { id: 'metrics.on.state.get.p50_ratio', value: round(c.paired.p50), unit: 'x' },
      { id: 'metrics.on.state.get.p99_ratio', value: round(c.paired.p99), unit: 'x' },
      { id: 'metrics.on.state.get.throughput_ratio', value: round(c.paired.opsPerSec), unit: 'x' },
    ];
  } finally {
    if (on) await on.close();
    if (off) await off.close();
  }
}

if (require.main === module) {
  runMetricsBench()
    .then((metrics) => console.table(metrics))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
