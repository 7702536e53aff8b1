import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runActorsBench } from './actors.bench';
import { runHttpBench } from './http.bench';
import { type Metric, printSummary } from './lib/report';
import { runMetricsBench } from './metrics.bench';
import { runPubSubBench } from './pubsub.bench';
import { runRssBench } from './rss.bench';
import { runSidecarBench } from './sidecar.bench';
import { runStateBench } from './state.bench';
import { runTracingBench } from './tracing.bench';
import { runWorkflowBench } from './workflows.bench';

/** The ids every results.json carries first, in this order (more may follow). */
const REQUIRED = [
  'state.get.c1.p50_ratio',
  'state.save.c1.p50_ratio',
  'state.get.c16.throughput_ratio',
  'state.save.c16.throughput_ratio',
  'http.state.get.added_p50_ms',
  'http.invoke.self.p50_ratio',
  'rss.idle_mb',
  'rss.after_100k_ops_mb',
  'pubsub.kafka.throughput_ratio',
  'pubsub.kafka.p50_ratio',
  'pubsub.kafka.p50_ms_ratio_to_java_e2e',
  'pubsub.kafka.p50_ms',
  'pubsub.kafka.events_per_s',
  'pubsub.redis.throughput_ratio',
  'pubsub.redis.p50_ratio',
  'pubsub.memory.events_per_s',
  'tracing.on.state.get.p50_ratio',
  'tracing.on.invoke.p50_ratio',
  'tracing.off.state.get.p50_ratio',
  'metrics.on.state.get.p50_ratio',
  'sidecar.state.get.added_p50_ms',
  'sidecar.invoke.p50_ratio_to_inprocess',
  'actors.call.p50_us',
  'actors.call.p50_ratio_to_plain',
  'actors.activation.p50_ms',
  'actors.forwarded.p50_ms',
  'actors.reminders.sqlite.per_s',
  'actors.reminders.redis.per_s',
];

async function main(): Promise<void> {
  const root = resolve(__dirname, '../..');
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    process.stderr.write('warning: run with node --expose-gc so each round starts after a full GC\n');
  }
  const started = Date.now();
  const metrics: Metric[] = [];
  const sections: [string, () => Promise<Metric[]>][] = [
    ['state', () => runStateBench()],
    ['http', () => runHttpBench()],
    ['rss', () => runRssBench(root)],
    ['pubsub', () => runPubSubBench()],
    ['tracing', () => runTracingBench()],
    ['metrics', () => runMetricsBench()],
    ['sidecar', () => runSidecarBench()],
    ['actors', () => runActorsBench()],
    ['workflows', () => runWorkflowBench()],
  ];
  // BENCH_SECTIONS=pubsub (comma-separated) runs only those and updates their ids in results.json.
  const only = (process.env['BENCH_SECTIONS'] ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const unknown = only.filter((name) => !sections.some(([n]) => n === name));
  if (unknown.length > 0) throw new Error(`BENCH_SECTIONS: unknown ${unknown.join(', ')} (known: ${sections.map(([n]) => n).join(', ')})`);
  const partial = only.length > 0 || process.env['BENCH_PUBSUB_BACKENDS'] !== undefined;
  for (const [name, run] of sections) {
    if (only.length > 0 && !only.includes(name)) continue;
    const t0 = Date.now();
    process.stdout.write(`\n=== ${name}\n`);
    metrics.push(...(await run()));
    process.stdout.write(`(${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
  const file = join(root, 'bench/results.json');
  if (partial) {
    // A partial run: its ids replace the same ids of the last results.json, the others stay.
    const earlier = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Metric[]) : [];
    const fresh = new Set(metrics.map((m) => m.id));
    metrics.unshift(...earlier.filter((m) => !fresh.has(m.id)));
  }
  const byId = new Map(metrics.map((m) => [m.id, m]));
  const missing = REQUIRED.filter((id) => !byId.has(id));
  if (missing.length > 0 && !partial) throw new Error(`missing results: ${missing.join(', ')}`);
  const required = REQUIRED.filter((id) => byId.has(id));
  const ordered = [...required.map((id) => byId.get(id) as Metric), ...metrics.filter((m) => !REQUIRED.includes(m.id))];
  writeFileSync(file, `${JSON.stringify(ordered, null, 2)}\n`);
  printSummary(ordered);
  process.stdout.write(`\nwrote ${file} (${((Date.now() - started) / 1000).toFixed(1)} s in all)\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
