import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricSettings } from '../../../config/configuration.loader';
import { errorMessage } from '../../../errors/sidekick.error';
import type { Registry } from 'prom-client';
import type { SidekickLogger } from '../../../spi/logger';
import type { ResolvedOptions } from '../../sidekick.options';
import { DAPR_LATENCY_BUCKETS_MS, DaprMetrics } from './metrics.registry';

/** The labels of a resiliency policy's metrics (daprd's `dapr_resiliency_*`). */
export interface ResiliencyLabels {
  /** The Resiliency document's `metadata.name`. */
  readonly name: string;
  readonly policy: 'retry' | 'timeout' | 'circuitbreaker';
  readonly direction: 'outbound' | 'inbound';
  /** daprd's target label: `app_<id>`, `<kind>_<component>` (e.g. `statestore_orders`, `pubsub_events`). */
  readonly target: string;
  /** For circuit breakers: `open`, `half-open` or `closed`. */
  readonly status?: string;
}

const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;

/**
 * Prometheus metrics of one app: collected when enabled (the `metrics` option and the
 * Configuration's `spec.metric.enabled` both allow it), served on `GET /metrics` (default
 * 127.0.0.1:9090, as daprd). Other blocks (resiliency) record through it; when metrics are off
 * every method is a no-op.
 */
export class MetricsService {
  private dapr?: DaprMetrics;
  private registry?: Promise<Registry>;
  private server?: Server;
  private listening?: AddressInfo;
  private readonly base: { app_id: string; namespace?: string };

  constructor(
    private readonly appId: string,
    namespace: string | undefined,
    private readonly options: ResolvedOptions['metrics'],
    private readonly logger: SidekickLogger,
  ) {
    this.base = namespace ? { app_id: appId, namespace } : { app_id: appId };
  }

  /** Turns collection on (once the Configuration is read), unless the option or the Configuration says off. */
  enable(settings: MetricSettings): DaprMetrics | undefined {
    if (!this.options.enabled || settings.enabled === false) return undefined;
    this.dapr ??= new DaprMetrics(settings.latencyDistributionBuckets ?? DAPR_LATENCY_BUCKETS_MS);
    return this.dapr;
  }

  get enabled(): boolean {
    return this.dapr !== undefined;
  }

  /** The metrics, when enabled. */
  get metrics(): DaprMetrics | undefined {
    return this.dapr;
  }

  /** Labels every series carries (`app_id`, and `namespace` when `NAMESPACE` is set). */
  get baseLabels(): { readonly app_id: string; readonly namespace?: string } {
    return this.base;
  }

  /** Where `GET /metrics` is served, once it is. */
  get address(): AddressInfo | undefined {
    return this.listening;
  }

  /** The text a scrape returns (Prometheus exposition format); empty when metrics are off. */
  async scrape(): Promise<string> {
    return (await this.promRegistry())?.metrics() ?? '';
  }

  /** The prom-client registry, made at the first scrape (prom-client is loaded then). */
  private promRegistry(): Promise<Registry> | undefined {
    const dapr = this.dapr;
    if (!dapr) return undefined;
    this.registry ??= dapr.registry();
    return this.registry;
  }

  /** Serves `GET /metrics`. A port in use is logged (the app runs on, its metrics unserved). */
  async listen(): Promise<void> {
    if (!this.dapr || this.server) return;
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || (path !== '/metrics' && path !== '/')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are served on GET /metrics');
        return;
      }
      const registry = this.promRegistry();
      if (!registry) return void res.writeHead(404).end();
      registry
        .then(async (r) => res.writeHead(200, { 'content-type': r.contentType }).end(await r.metrics()))
        .catch((err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${errorMessage(err)}`));
    });
    const { host, port } = this.options;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
      this.logger.warn(
        { host, port, err: code },
        `metrics are not served: cannot listen on ${host}:${port} (${code}). Set SIDEKICK_METRICS_PORT (metrics.port) to a free port, or metrics.enabled: false`,
      );
      return;
    }
    this.server = server;
    this.listening = server.address() as AddressInfo;
    this.logger.info({ address: `http://${host}:${this.listening.port}/metrics` }, 'metrics served');
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.listening = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Components loaded at start-up (`dapr_runtime_component_loaded`, `dapr_runtime_component_init_total`). */
  componentsLoaded(names: readonly string[]): void {
    if (!this.dapr) return;
    this.dapr.componentLoaded.set(this.base, names.length);
    for (const component of names) this.dapr.componentInit.inc({ ...this.base, component });
  }

  /** A Resiliency document was loaded (`dapr_resiliency_loaded`). */
  resiliencyLoaded(name: string): void {
    this.dapr?.resiliencyLoaded.inc({ ...this.base, name });
  }

  /** A policy applied to a call (`dapr_resiliency_count`). */
  resiliencyExecuted(labels: ResiliencyLabels): void {
    this.dapr?.resiliencyCount.inc(this.resiliencyLabels(labels));
  }

  /**
   * A policy acted (`dapr_resiliency_activations_total`): a retry, a timeout that fired, a circuit
   * breaker that changed state (its `status`; `dapr_resiliency_cb_state` follows).
   */
  resiliencyActivated(labels: ResiliencyLabels): void {
    const dapr = this.dapr;
    if (!dapr) return;
    const values = this.resiliencyLabels(labels);
    dapr.resiliencyActivations.inc(values);
    if (labels.policy === 'circuitbreaker' && labels.status) {
      for (const state of BREAKER_STATES) dapr.resiliencyBreakerState.set({ ...values, status: state }, state === labels.status ? 1 : 0);
    }
  }

  private resiliencyLabels(labels: ResiliencyLabels): Record<string, string> {
    const out: Record<string, string> = { ...this.base, name: labels.name, policy: labels.policy, flow_direction: labels.direction, target: labels.target };
    if (labels.status) out['status'] = labels.status;
    return out;
  }
}
