import { median, medianStats, type RoundStats, summarize } from './stats';

/** One side of a comparison: `op(i)` performs operation number `i` (0-based within the round). */
export interface Contender {
  readonly label: string;
  readonly op: (i: number) => Promise<unknown>;
}

export interface CompareOptions {
  /** Timed operations per round and side. */
  readonly ops: number;
  /** Async callers, each awaiting its operation before starting the next. */
  readonly concurrency: number;
  /** Timed rounds per side; the two sides alternate A, B, A, B, ... */
  readonly rounds: number;
  /** Untimed operations per side before the first round (JIT, connection pools, Redis caches). */
  readonly warmup: number;
}

export interface Comparison {
  readonly name: string;
  readonly concurrency: number;
  readonly a: SideResult;
  readonly b: SideResult;
  /**
   * Median, over every two adjacent rounds (A1 B1, B1 A2, A2 B2, ...: each pair ran back to back, half of
   * them with A first), of A's figure over B's. Load from elsewhere on the machine changes over seconds;
   * adjacent rounds share it, so these ratios are what the summary reports.
   */
  readonly paired: PairedRatios;
}

export interface PairedRatios {
  readonly p50: number;
  readonly p99: number;
  readonly opsPerSec: number;
  /** A's p50 minus B's p50, in ms (median over the same adjacent pairs). */
  readonly p50DiffMs: number;
}

export interface SideResult {
  readonly label: string;
  /** Per-metric median over the rounds. */
  readonly median: RoundStats;
  readonly rounds: readonly RoundStats[];
}

const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

/**
 * Runs `ops` operations with `concurrency` callers and times each one with `process.hrtime.bigint()`.
 */
export async function timedRound(op: (i: number) => Promise<unknown>, ops: number, concurrency: number): Promise<RoundStats> {
  const latencies = new Float64Array(ops);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= ops) return;
      const t0 = process.hrtime.bigint();
      await op(i);
      latencies[i] = Number(process.hrtime.bigint() - t0);
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = Number(process.hrtime.bigint() - start);
  return summarize(latencies, elapsed);
}

/** Runs operations without timing them. */
export async function untimed(op: (i: number) => Promise<unknown>, ops: number, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= ops) return;
      await op(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function settle(): void {
  if (gc) {
    gc();
    gc();
  }
}

/**
 * Measures A and B in the same process, interleaved: warm-up of both, then A, B, A, B, ... rounds,
 * with a full GC before each round so one side's garbage is not collected on the other's clock.
 */
export async function compare(name: string, a: Contender, b: Contender, options: CompareOptions): Promise<Comparison> {
  await untimed(a.op, options.warmup, options.concurrency);
  await untimed(b.op, options.warmup, options.concurrency);
  const roundsA: RoundStats[] = [];
  const roundsB: RoundStats[] = [];
  /** Every round in the order it ran: A, B, A, B, ... */
  const sequence: RoundStats[] = [];
  for (let r = 0; r < options.rounds; r++) {
    settle();
    const ra = await timedRound(a.op, options.ops, options.concurrency);
    settle();
    const rb = await timedRound(b.op, options.ops, options.concurrency);
    roundsA.push(ra);
    roundsB.push(rb);
    sequence.push(ra, rb);
  }
  return {
    name,
    concurrency: options.concurrency,
    a: { label: a.label, median: medianStats(roundsA), rounds: roundsA },
    b: { label: b.label, median: medianStats(roundsB), rounds: roundsB },
    paired: pairedRatios(sequence),
  };
}

/** See {@link Comparison.paired}; `sequence` alternates A, B, A, B, ... */
export function pairedRatios(sequence: readonly RoundStats[]): PairedRatios {
  const pairs: [RoundStats, RoundStats][] = [];
  for (let k = 0; k + 1 < sequence.length; k++) {
    const first = sequence[k] as RoundStats;
    const second = sequence[k + 1] as RoundStats;
    pairs.push(k % 2 === 0 ? [first, second] : [second, first]);
  }
  const of = (f: (a: RoundStats, b: RoundStats) => number): number => median(pairs.map(([a, b]) => f(a, b)));
  return {
    p50: of((a, b) => a.p50Ms / b.p50Ms),
    p99: of((a, b) => a.p99Ms / b.p99Ms),
    opsPerSec: of((a, b) => a.opsPerSec / b.opsPerSec),
    p50DiffMs: of((a, b) => a.p50Ms - b.p50Ms),
  };
}

/** Positive integer from an environment variable, else `fallback` (lets a quick run shrink the suite). */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}="${raw}" is not a positive integer`);
  return n;
}
