import type { SidekickLogger } from '../../spi/logger';

/** daprd's app health check settings (`--app-health-probe-interval`, `--app-health-probe-timeout`, `--app-health-threshold`). */
export interface AppHealthSettings {
  /** Health path probed with GET; a 2xx answer is healthy (`--app-health-check-path`, default `/healthz`). */
  readonly path: string;
  /** Pause between two probes in ms (daprd: 5 s). */
  readonly intervalMs: number;
  /** Time a probe may take in ms (daprd: 500). */
  readonly timeoutMs: number;
  /** Consecutive failed probes that make the app unhealthy (daprd: 3); one success makes it healthy again. */
  readonly threshold: number;
}

/** The app stopped being waited for (the sidecar is shutting down). */
export class AppHealthClosedError extends Error {
  constructor() {
    super('the sidecar is shutting down: no longer waiting for the app to become healthy');
  }
}

/** One probe: undefined when the app answered 2xx in time, else what went wrong. */
export type HealthProbe = (path: string, timeoutMs: number) => Promise<string | undefined>;

/**
 * daprd's periodic app health checks: once the app was ready, its health path is probed every
 * interval; `threshold` failures in a row make it unhealthy, one success healthy again. Each
 * transition is logged and told to the listeners (the blocks pause and resume delivery);
 * {@link whenHealthy} lets a delivery wait for the app to recover.
 */
export class AppHealthMonitor {
  private healthy = true;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private probing?: Promise<void>;
  private stopped = false;
  private recovered?: { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void };
  private readonly listeners: ((healthy: boolean) => void)[] = [];

  constructor(
    readonly settings: AppHealthSettings,
    private readonly probe: HealthProbe,
    private readonly logger: SidekickLogger,
    private readonly appId: string,
  ) {}

  get isHealthy(): boolean {
    return this.healthy;
  }

  /** Calls `listener(healthy)` on every transition. */
  onChange(listener: (healthy: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** Starts probing (the app was found ready: it starts healthy, as daprd after its first successful probe). */
  start(): void {
    if (this.stopped || this.timer) return;
    this.logger.info({ appId: this.appId, ...this.settings }, 'app health checks enabled');
    this.schedule();
  }

  /** Undefined while healthy (no wait); else a promise that settles when the app is healthy again or probing stops. */
  whenHealthy(): Promise<void> | undefined {
    if (this.healthy) return undefined;
    if (this.stopped) return Promise.reject(new AppHealthClosedError());
    if (!this.recovered) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((ok, fail) => {
        resolve = ok;
        reject = fail;
      });
      this.recovered = { promise, resolve, reject };
    }
    return this.recovered.promise;
  }

  /** Stops probing; deliveries still waiting for recovery fail with {@link AppHealthClosedError}. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.recovered?.reject(new AppHealthClosedError());
    this.recovered = undefined;
    await this.probing;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.probing = this.check().finally(() => {
        this.probing = undefined;
        this.schedule();
      });
    }, this.settings.intervalMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const problem = await this.probe(this.settings.path, this.settings.timeoutMs).catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
    if (this.stopped) return;
    if (problem === undefined) {
      this.failures = 0;
      if (!this.healthy) this.transition(true, undefined);
      return;
    }
    this.failures += 1;
    if (this.healthy && this.failures >= this.settings.threshold) this.transition(false, problem);
    else if (this.healthy) this.logger.debug({ appId: this.appId, failures: this.failures, problem }, 'app health probe failed');
  }

  private transition(healthy: boolean, problem: string | undefined): void {
    this.healthy = healthy;
    if (healthy) {
      this.logger.info({ appId: this.appId }, 'the app is healthy again: resuming deliveries (pub/sub, input bindings, invocations)');
      const recovered = this.recovered;
      this.recovered = undefined;
      recovered?.resolve();
    } else {
      this.logger.warn(
        { appId: this.appId, failures: this.failures, problem },
        'the app is unhealthy: pausing pub/sub deliveries and input bindings, invocations answer 500 until it recovers',
      );
    }
    for (const listener of this.listeners) {
      try {
        listener(healthy);
      } catch (err) {
        this.logger.error({ appId: this.appId, err: err instanceof Error ? err.message : String(err) }, 'an app health listener failed');
      }
    }
  }
}
