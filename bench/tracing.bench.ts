import { HttpClient } from './lib/http-client';
import { jsonValue } from './lib/redis';
import { type Metric, printComparison, round } from './lib/report';
import { compare, type Comparison, envInt } from './lib/runner';
import { type BenchApp, startBenchApp } from './lib/sidekick-app';

const KEYS = 64;

/** Zipkin's base URL (scripts/bench.sh starts it: SIDEKICK_ZIPKIN_PORT, default 9411). */
function zipkinUrl(): string {
  return process.env['SIDEKICK_BENCH_ZIPKIN_URL'] ?? `http://127.0.0.1:${process.env['SIDEKICK_ZIPKIN_PORT'] ?? '9411'}`;
}

interface Side {
  readonly app: BenchApp;
  readonly api: HttpClient;
  readonly appId: string;
}

async function side(appId: string, config?: Record<string, unknown>): Promise<Side> {
  const app = await startBenchApp({ appId, config });
  return { app, api: new HttpClient(app.apiUrl), appId };
}

/** State get (SidekickClient, concurrency 1) and self-invoke (Dapr HTTP API → in-process → the app's route) on two apps. */
async function pair(name: string, a: Side, b: Side, keys: readonly string[]): Promise<{ state: Comparison; invoke: Comparison }> {
  const ops = envInt('BENCH_TRACING_OPS', 3_000);
  const rounds = envInt('BENCH_TRACING_ROUNDS', 17);
  const warmup = envInt('BENCH_TRACING_WARMUP', 2_000);
  const storeA = a.app.client.state('statestore');
  const storeB = b.app.client.state('statestore');
  const state = await compare(
    `${name}: state get (SidekickClient, redis)`,
    { label: a.appId, op: (i) => storeA.get(keys[i % KEYS] as string) },
    { label: b.appId, op: (i) => storeB.get(keys[i % KEYS] as string) },
    { ops, concurrency: 1, rounds, warmup },
  );
  printComparison(state);
  const invoke = await compare(
    `${name}: self-invoke (GET /v1.0/invoke/{self}/method/order)`,
    { label: a.appId, op: () => a.api.get(`/v1.0/invoke/${a.appId}/method/order`) },
    { label: b.appId, op: () => b.api.get(`/v1.0/invoke/${b.appId}/method/order`) },
    { ops: Math.ceil(ops / 2), concurrency: 1, rounds, warmup: Math.ceil(warmup / 2) },
  );
  printComparison(invoke);
  return { state, invoke };
}

/**
 * How many traces of `serviceName` Zipkin holds that started since `sinceMs` (proof that the rate-1
 * side really exported; a window, not a before/after difference: the query is capped at 1000 and
 * earlier runs' traces of the same service stay in Zipkin).
 */
async function zipkinTraceCount(serviceName: string, sinceMs: number): Promise<number> {
  const now = Date.now();
  const res = await fetch(`${zipkinUrl()}/api/v2/traces?serviceName=${serviceName}&limit=1000&endTs=${now}&lookback=${now - sinceMs + 1}`);
  if (!res.ok) throw new Error(`Zipkin answered ${res.status}`);
  return ((await res.json()) as unknown[]).length;
}

/**
 * Tracing overhead, in one run:
 * 1. sampling rate 0 (tracing configured, exporting to Zipkin) against no tracing configured, before
 *    any app of this process has traced anything (so AsyncLocalStorage was never turned on);
 * 2. sampling rate 1 exporting every span to the real Zipkin (batched, as in production) against rate 0.
 * Each side is its own Nest app on the same Redis.
 */
export async function runTracingBench(): Promise<Metric[]> {
  const zipkin = { endpointAddress: `${zipkinUrl()}/api/v2/spans` };
  const health = await fetch(`${zipkinUrl()}/health`).catch((err: unknown) => {
    throw new Error(`Zipkin is not reachable at ${zipkinUrl()} (bash scripts/services.sh up zipkin): ${String(err)}`);
  });
  if (!health.ok) throw new Error(`Zipkin at ${zipkinUrl()} answered ${health.status}`);
  const sides: Side[] = [];
  try {
    const none = await side('bench-trace-none');
    const off = await side('bench-trace-rate0', { tracing: { samplingRate: '0', zipkin } });
    sides.push(none, off);
    const value = jsonValue(1024);
    const keys = Array.from({ length: KEYS }, (_, i) => `trace-${i}`);
    for (const key of keys) {
      await none.app.client.state('statestore').save(key, value);
      await off.app.client.state('statestore').save(key, value);
    }
    const offRun = await pair('rate 0 vs no tracing', off, none, keys);

    const on = await side('bench-trace-rate1', { tracing: { samplingRate: '1', zipkin } });
    sides.push(on);
    for (const key of keys) await on.app.client.state('statestore').save(key, value);
    const since = Date.now();
    const onRun = await pair('rate 1 (to Zipkin) vs rate 0', on, off, keys);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // one export batch
    const exported = await zipkinTraceCount(on.appId, since);
    process.stdout.write(`Zipkin received ${exported}+ new traces of ${on.appId} (query limit 1000)\n`);
    if (exported <= 0) throw new Error('the rate-1 app exported no trace to Zipkin');

    return [
      { id: 'tracing.on.state.get.p50_ratio', value: round(onRun.state.paired.p50), unit: 'x' },
      { id: 'tracing.on.invoke.p50_ratio', value: round(onRun.invoke.paired.p50), unit: 'x' },
      { id: 'tracing.off.state.get.p50_ratio', value: round(offRun.state.paired.p50), unit: 'x' },
      { id: 'tracing.off.invoke.p50_ratio', value: round(offRun.invoke.paired.p50), unit: 'x' },
      { id: 'tracing.on.state.get.p50_ms', value: round(onRun.state.a.median.p50Ms, 4), unit: 'ms' },
      { id: 'tracing.rate0.state.get.p50_ms', value: round(offRun.state.a.median.p50Ms, 4), unit: 'ms' },
      { id: 'tracing.none.state.get.p50_ms', value: round(offRun.state.b.median.p50Ms, 4), unit: 'ms' },
      { id: 'tracing.on.invoke.p50_ms', value: round(onRun.invoke.a.median.p50Ms, 4), unit: 'ms' },
      { id: 'tracing.rate0.invoke.p50_ms', value: round(offRun.invoke.a.median.p50Ms, 4), unit: 'ms' },
    ];
  } finally {
    for (const s of sides) {
      await s.api.close().catch(() => undefined);
      await s.app.close();
    }
  }
}

if (require.main === module) {
  runTracingBench()
    .then((metrics) => console.table(metrics))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
