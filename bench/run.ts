import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runHttpBench } from './http.bench';
import { type Metric, printSummary } from './lib/report';
import { runPubSubBench } from './pubsub.bench';
import { runRssBench } from './rss.bench';
import { runStateBench } from './state.bench';
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
  'pubsub.redis.throughput_ratio',
  'pubsub.redis.p50_ratio',
  'pubsub.memory.events_per_s',
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
    ['workflows', () => runWorkflowBench()],
  ];
  for (const [name, run] of sections) {
    const t0 = Date.now();
    process.stdout.write(`\n=== ${name}\n`);
    metrics.push(...(await run()));
    process.stdout.write(`(${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
  const byId = new Map(metrics.map((m) => [m.id, m]));
  const missing = REQUIRED.filter((id) => !byId.has(id));
  if (missing.length > 0) throw new Error(`missing results: ${missing.join(', ')}`);
  const ordered = [...REQUIRED.map((id) => byId.get(id) as Metric), ...metrics.filter((m) => !REQUIRED.includes(m.id))];
  const file = join(root, 'bench/results.json');
  writeFileSync(file, `${JSON.stringify(ordered, null, 2)}\n`);
  printSummary(ordered);
  process.stdout.write(`\nwrote ${file} (${((Date.now() - started) / 1000).toFixed(1)} s in all)\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
