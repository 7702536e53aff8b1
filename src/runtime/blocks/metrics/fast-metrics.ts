import type { Metric, Registry } from 'prom-client';

/** A label set's bound series: what the hot path increments (no hashing, no allocation per call). */
export interface CounterChild {
  inc(value?: number): void;
}

export interface HistogramChild {
  observe(value: number): void;
}

type Labels = Readonly<Record<string, string>>;

interface MetricValue {
  readonly labels: Labels;
  readonly value: number;
  readonly metricName?: string;
}

/** What prom-client's registry reads from a metric at scrape time (its `get()` contract). */
interface Collected {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram' | 'gauge';
  readonly aggregator: 'sum';
  readonly values: MetricValue[];
}

/**
 * Counters and histograms for the per-call path, exposed through a prom-client `Registry`.
 * prom-client hashes the label object on every `inc`/`observe`, even through `labels()` children;
 * these keep one plain series object per label set, bound once per call site, and only build
 * prom-client's exposition values when Prometheus scrapes.
 */
abstract class FastMetric<C> {
  private readonly series = new Map<string, { readonly labels: Labels; readonly child: C }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** Exposes this metric through a prom-client registry (done once prom-client is loaded, at the first scrape). */
  attach(registry: Registry): void {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of `labels` (created on first use); keep it and call it per event. */
  labels(labels: Labels): C {
    const key = this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
    let found = this.series.get(key);
    if (!found) {
      const kept: Record<string, string> = {};
      for (const n of this.labelNames) {
        const v = labels[n];
        if (v !== undefined && v !== '') kept[n] = v;
      }
      found = { labels: kept, child: this.create() };
      this.series.set(key, found);
    }
    return found.child;
  }

  protected abstract create(): C;
  protected abstract values(labels: Labels, child: C, out: MetricValue[]): void;
  protected abstract readonly type: 'counter' | 'histogram' | 'gauge';

  /** prom-client's registry calls this at scrape time. */
  get(): Promise<Collected> {
    const values: MetricValue[] = [];
    for (const { labels, child } of this.series.values()) this.values(labels, child, values);
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: 'sum', values });
  }
}

class CounterSeries implements CounterChild {
  value = 0;
  inc(value = 1): void {
    this.value += value;
  }
}

export class FastCounter extends FastMetric<CounterSeries> {
  protected readonly type = 'counter';

  inc(labels: Labels, value = 1): void {
    this.labels(labels).inc(value);
  }

  protected create(): CounterSeries {
    return new CounterSeries();
  }

  protected values(labels: Labels, child: CounterSeries, out: MetricValue[]): void {
    out.push({ labels, value: child.value });
  }
}

class GaugeSeries {
  value = 0;
}

/** A gauge: the last value set per label set. */
export class FastGauge extends FastMetric<GaugeSeries> {
  protected readonly type = 'gauge';

  set(labels: Labels, value: number): void {
    this.labels(labels).value = value;
  }

  protected create(): GaugeSeries {
    return new GaugeSeries();
  }

  protected values(labels: Labels, child: GaugeSeries, out: MetricValue[]): void {
    out.push({ labels, value: child.value });
  }
}

class HistogramSeries implements HistogramChild {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        (this.counts[i] as number) += 1;
        return;
      }
    }
  }
}

export class FastHistogram extends FastMetric<HistogramSeries> {
  protected readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
  }

  observe(labels: Labels, value: number): void {
    this.labels(labels).observe(value);
  }

  protected create(): HistogramSeries {
    return new HistogramSeries(this.buckets);
  }

  protected values(labels: Labels, child: HistogramSeries, out: MetricValue[]): void {
    let cumulative = 0;
    const bucket = `${this.name}_bucket`;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += child.counts[i] as number;
      out.push({ labels: { le: String(this.buckets[i]), ...labels }, value: cumulative, metricName: bucket });
    }
    out.push({ labels: { le: '+Inf', ...labels }, value: child.count, metricName: bucket });
    out.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
    out.push({ labels, value: child.count, metricName: `${this.name}_count` });
  }
}
