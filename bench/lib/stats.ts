/** Latency / throughput statistics over one round of timed operations. */

export interface RoundStats {
  /** Operations timed in this round. */
  readonly ops: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** Operations completed per second of wall-clock time (all callers together). */
  readonly opsPerSec: number;
}

/** The value at percentile `p` (0-100) of an ascending-sorted array (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * n);
  const index = Math.min(n - 1, Math.max(0, rank - 1));
  return sorted[index] as number;
}

/** The median of a list of numbers (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Summarises per-operation latencies in nanoseconds (the array is sorted in place). */
export function summarize(latenciesNs: Float64Array, elapsedNs: number): RoundStats {
  latenciesNs.sort();
  let sum = 0;
  for (let i = 0; i < latenciesNs.length; i++) sum += latenciesNs[i] as number;
  const toMs = (ns: number): number => ns / 1e6;
  return {
    ops: latenciesNs.length,
    p50Ms: toMs(percentile(latenciesNs, 50)),
    p90Ms: toMs(percentile(latenciesNs, 90)),
    p99Ms: toMs(percentile(latenciesNs, 99)),
    meanMs: toMs(sum / latenciesNs.length),
    opsPerSec: latenciesNs.length / (elapsedNs / 1e9),
  };
}

/** Per-metric median over rounds. */
export function medianStats(rounds: readonly RoundStats[]): RoundStats {
  const of = (pick: (r: RoundStats) => number): number => median(rounds.map(pick));
  return {
    ops: of((r) => r.ops),
    p50Ms: of((r) => r.p50Ms),
    p90Ms: of((r) => r.p90Ms),
    p99Ms: of((r) => r.p99Ms),
    meanMs: of((r) => r.meanMs),
    opsPerSec: of((r) => r.opsPerSec),
  };
}
