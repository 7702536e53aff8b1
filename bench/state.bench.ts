import { jsonValue, KEY_PREFIX, rawRedis, type RawRedis } from './lib/redis';
import { type Metric, printComparison, round } from './lib/report';
import { compare, type Comparison, envInt } from './lib/runner';
import { type BenchApp, startBenchApp } from './lib/sidekick-app';

const KEYS = 64;

/**
 * State through `SidekickClient` (Nest app, `state.redis`) vs raw ioredis doing the same work on the
 * same Redis, same key layout, same 1 KiB JSON value: get = HMGET data+version then JSON.parse;
 * save = the component's Lua set script (EVALSHA) with JSON.stringify of the value.
 */
export async function runStateBench(): Promise<Metric[]> {
  const ops = envInt('BENCH_STATE_OPS', 20_000);
  const rounds = envInt('BENCH_STATE_ROUNDS', 5);
  const warmup = envInt('BENCH_STATE_WARMUP', 5_000);
  const value = jsonValue(1024);

  let bench: BenchApp | undefined;
  let raw: RawRedis | undefined;
  try {
    bench = await startBenchApp();
    raw = await rawRedis();
    const redis = raw;
    const store = bench.client.state<Record<string, unknown>>('statestore');
    const getKeys = Array.from({ length: KEYS }, (_, i) => `get-${i}`);
    const saveKeys = Array.from({ length: KEYS }, (_, i) => `save-${i}`);
    const rawGetKeys = getKeys.map((k) => KEY_PREFIX + k);
    const rawSaveKeys = saveKeys.map((k) => KEY_PREFIX + k);
    for (const key of getKeys) await store.save(key, value);

    // Sanity: both sides see the same bytes under the same Redis keys.
    const viaSidekick = await store.get(getKeys[0] as string);
    const [data] = await redis.hmget(rawGetKeys[0] as string, 'data', 'version');
    if (JSON.stringify(viaSidekick) !== data) throw new Error('raw and Sidekick do not read the same value');

    const sidekickGet = (i: number): Promise<unknown> => store.get(getKeys[i % KEYS] as string);
    const rawGet = async (i: number): Promise<unknown> => {
      const [stored] = await redis.hmget(rawGetKeys[i % KEYS] as string, 'data', 'version');
      return stored == null ? undefined : JSON.parse(stored);
    };
    const sidekickSave = (i: number): Promise<void> => store.save(saveKeys[i % KEYS] as string, value);
    const rawSave = (i: number): Promise<number> => redis.benchSet(rawSaveKeys[i % KEYS] as string, '0', JSON.stringify(value), '0', '');

    const metrics: Metric[] = [];
    const results: Record<string, Comparison> = {};
    for (const concurrency of [1, 16]) {
      for (const [name, a, b] of [
        ['get', sidekickGet, rawGet],
        ['save', sidekickSave, rawSave],
      ] as const) {
        const c = await compare(
          `state.${name} (SidekickClient vs raw ioredis, 1 KiB JSON)`,
          { label: 'sidekick', op: a },
          { label: 'raw ioredis', op: b },
          { ops, concurrency, rounds, warmup },
        );
        printComparison(c);
        results[`${name}.c${concurrency}`] = c;
      }
    }
    const r = (key: string): Comparison => results[key] as Comparison;
    // Ratios: medians over adjacent A/B round pairs (see Comparison.paired).
    const p50 = (c: Comparison): number => c.paired.p50;
    const p99 = (c: Comparison): number => c.paired.p99;
    const tput = (c: Comparison): number => c.paired.opsPerSec;
    metrics.push(
      { id: 'state.get.c1.p50_ratio', value: round(p50(r('get.c1'))), unit: 'x' },
      { id: 'state.save.c1.p50_ratio', value: round(p50(r('save.c1'))), unit: 'x' },
      { id: 'state.get.c16.throughput_ratio', value: round(tput(r('get.c16'))), unit: 'x' },
      { id: 'state.save.c16.throughput_ratio', value: round(tput(r('save.c16'))), unit: 'x' },
    );
    for (const key of ['get.c1', 'save.c1', 'get.c16', 'save.c16']) {
      const c = r(key);
      metrics.push(
        { id: `state.${key}.p99_ratio`, value: round(p99(c)), unit: 'x' },
        { id: `state.${key}.sidekick_p50_ms`, value: round(c.a.median.p50Ms, 4), unit: 'ms' },
        { id: `state.${key}.raw_p50_ms`, value: round(c.b.median.p50Ms, 4), unit: 'ms' },
        { id: `state.${key}.sidekick_ops_per_s`, value: Math.round(c.a.median.opsPerSec), unit: 'ops/s' },
        { id: `state.${key}.raw_ops_per_s`, value: Math.round(c.b.median.opsPerSec), unit: 'ops/s' },
      );
    }
    for (const key of ['get.c1', 'save.c1']) metrics.push({ id: `state.${key}.throughput_ratio`, value: round(tput(r(key))), unit: 'x' });
    for (const key of ['get.c16', 'save.c16']) metrics.push({ id: `state.${key}.p50_ratio`, value: round(p50(r(key))), unit: 'x' });

    await redis.del(...rawGetKeys, ...rawSaveKeys);
    return metrics;
  } finally {
    if (raw) await raw.quit().catch(() => raw?.disconnect());
    if (bench) await bench.close();
  }
}

if (require.main === module) {
  runStateBench()
    .then((metrics) => console.table(metrics))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
