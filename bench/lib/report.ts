import type { Comparison } from './runner';

/** One figure of `bench/results.json`. */
export interface Metric {
  readonly id: string;
  readonly value: number;
  readonly unit: string;
}

/** A target from the issue: `value <= max` or `value >= min`. */
export interface Target {
  readonly id: string;
  readonly max?: number;
  readonly min?: number;
}

export const TARGETS: readonly Target[] = [
  { id: 'state.get.c1.p50_ratio', max: 1.1 },
  { id: 'state.save.c1.p50_ratio', max: 1.1 },
  { id: 'state.get.c16.throughput_ratio', min: 0.9 },
  { id: 'state.save.c16.throughput_ratio', min: 0.9 },
  { id: 'http.state.get.added_p50_ms', max: 0.1 },
  { id: 'http.invoke.self.p50_ratio', max: 1.3 },
  { id: 'pubsub.redis.throughput_ratio', min: 0.85 },
  { id: 'pubsub.redis.p50_ratio', max: 1.2 },
  { id: 'pubsub.kafka.throughput_ratio', min: 0.85 },
  { id: 'pubsub.kafka.p50_ratio', max: 1.2 },
  { id: 'pubsub.kafka.p50_ms_ratio_to_java_e2e', max: 1.5 },
  { id: 'pubsub.kafka.p50_ms', max: 0.9 },
  { id: 'pubsub.kafka.events_per_s', min: 10_000 },
  { id: 'tracing.on.state.get.p50_ratio', max: 1.15 },
  { id: 'tracing.on.invoke.p50_ratio', max: 1.15 },
  { id: 'tracing.off.state.get.p50_ratio', max: 1.03 },
  { id: 'metrics.on.state.get.p50_ratio', max: 1.05 },
  { id: 'sidecar.state.get.p50_ratio_to_inprocess_plus_rtt', max: 1 },
  { id: 'sidecar.invoke.p50_ratio_to_inprocess_plus_rtt', max: 1 },
  { id: 'actors.call.p50_ratio_to_plain', max: 1.5 },
  { id: 'actors.activation.p50_ms', max: 0.23 },
  { id: 'actors.reminders.sqlite.per_s', min: 15_463 },
  { id: 'actors.reminders.redis.per_s', min: 15_463 },
];

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function ratio(a: number, b: number): number {
  return a / b;
}

export function fmtRatio(value: number): string {
  return `${value.toFixed(3)}x`;
}

function fmtMs(value: number): string {
  return value < 1 ? value.toFixed(4) : value.toFixed(3);
}

function fmtOps(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Prints a comparison (median over rounds of each side) with its ratios, A over B. */
export function printComparison(c: Comparison): void {
  const { a, b } = c;
  const rows: string[][] = [
    ['', 'p50 ms', 'p90 ms', 'p99 ms', 'ops/s'],
    [a.label, fmtMs(a.median.p50Ms), fmtMs(a.median.p90Ms), fmtMs(a.median.p99Ms), fmtOps(a.median.opsPerSec)],
    [b.label, fmtMs(b.median.p50Ms), fmtMs(b.median.p90Ms), fmtMs(b.median.p99Ms), fmtOps(b.median.opsPerSec)],
    [
      'ratio of medians',
      fmtRatio(a.median.p50Ms / b.median.p50Ms),
      fmtRatio(a.median.p90Ms / b.median.p90Ms),
      fmtRatio(a.median.p99Ms / b.median.p99Ms),
      fmtRatio(a.median.opsPerSec / b.median.opsPerSec),
    ],
    ['ratio, adjacent pairs', fmtRatio(c.paired.p50), '', fmtRatio(c.paired.p99), fmtRatio(c.paired.opsPerSec)],
  ];
  const rounds = a.rounds.length;
  process.stdout.write(
    `\n${c.name}\n  concurrency ${c.concurrency}, ${a.median.ops} ops x ${rounds} rounds per side (A/B/A/B...), ` +
      `figures = median of rounds; A-B p50: ${(c.paired.p50DiffMs * 1000).toFixed(1)} us (adjacent pairs)\n`,
  );
  process.stdout.write(table(rows));
  const perRound = (side: Comparison['a']): string => side.rounds.map((r) => fmtMs(r.p50Ms)).join(' ');
  process.stdout.write(`p50 per round: ${a.label} [${perRound(a)}] / ${b.label} [${perRound(b)}]\n`);
}

/** A plain-text table, first column left-aligned, others right-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')).join('\n') + '\n';
}

/** `met` / `MISSED` / `` for a metric with no target. */
export function verdict(metric: Metric): string {
  const target = TARGETS.find((t) => t.id === metric.id);
  if (!target) return '';
  const ok = (target.max === undefined || metric.value <= target.max) && (target.min === undefined || metric.value >= target.min);
  return ok ? 'met' : 'MISSED';
}

export function targetText(id: string): string {
  const target = TARGETS.find((t) => t.id === id);
  if (!target) return '';
  return target.max !== undefined ? `<= ${target.max}` : `>= ${String(target.min)}`;
}

/** The summary table of every metric, with its target and verdict. */
export function printSummary(metrics: readonly Metric[]): void {
  const rows = [['id', 'value', 'unit', 'target', 'verdict']];
  for (const m of metrics) rows.push([m.id, String(m.value), m.unit, targetText(m.id), verdict(m)]);
  process.stdout.write(`\n${table(rows)}`);
}
