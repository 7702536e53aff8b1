import type { Registry } from 'prom-client';
import { FastCounter, FastGauge, FastHistogram } from './fast-metrics';

/** daprd's default latency buckets, in milliseconds (pkg/diagnostics, `defaultLatencyDistribution`). */
export const DAPR_LATENCY_BUCKETS_MS: readonly number[] = [
  1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250, 300, 400, 500, 650, 800, 1000, 2000, 5000, 10000, 20000, 50000, 100000,
];

const COMPONENT = ['app_id', 'component', 'namespace', 'operation', 'success'] as const;
const EGRESS = ['app_id', 'component', 'namespace', 'success', 'topic'] as const;
const INGRESS = ['app_id', 'component', 'namespace', 'process_status', 'status', 'topic'] as const;
const INPUT_BINDING = ['app_id', 'component', 'namespace', 'success'] as const;
const RESILIENCY = ['app_id', 'name', 'policy', 'namespace', 'flow_direction', 'target', 'status'] as const;
const HTTP = ['app_id', 'method', 'path', 'status'] as const;

/** A count and a latency histogram recorded together, as daprd's `_count` / `_latencies` pairs. */
export interface CountAndLatency {
  readonly count: FastCounter;
  readonly latency: FastHistogram;
}

/**
 * The Prometheus metrics of one app, with Dapr's metric names, labels and units (pkg/diagnostics):
 * Node's process metrics (`process_*`, `nodejs_*`, as daprd exports Go's `process_*`, `go_*`), the
 * HTTP server, components (state, pub/sub, bindings, secrets, configuration), service invocation
 * and resiliency. One registry per app (no global one): several apps may run in one process.
 */
export class DaprMetrics {
  private readonly all: { attach(registry: Registry): void }[] = [];
  readonly httpRequests: FastCounter;
  readonly httpResponses: FastCounter;
  readonly httpLatency: FastHistogram;
  readonly errorCodes: FastCounter;
  readonly state: CountAndLatency;
  readonly secret: CountAndLatency;
  readonly configuration: CountAndLatency;
  readonly outputBinding: CountAndLatency;
  readonly inputBinding: CountAndLatency;
  readonly egress: CountAndLatency;
  readonly bulkEgress: CountAndLatency;
  readonly ingress: CountAndLatency;
  readonly bulkIngress: CountAndLatency;
  readonly invokeReqSent: FastCounter;
  readonly invokeResRecv: FastCounter;
  readonly invokeResRecvLatency: FastHistogram;
  readonly invokeReqRecv: FastCounter;
  readonly invokeResSent: FastCounter;
  readonly componentLoaded: FastGauge;
  readonly componentInit: FastCounter;
  readonly resiliencyLoaded: FastCounter;
  readonly resiliencyCount: FastCounter;
  readonly resiliencyActivations: FastCounter;
  readonly resiliencyBreakerState: FastGauge;

  constructor(buckets: readonly number[] = DAPR_LATENCY_BUCKETS_MS) {
    const track = <M extends { attach(registry: Registry): void }>(metric: M): M => {
      this.all.push(metric);
      return metric;
    };
    const counter = (name: string, help: string, labelNames: readonly string[]): FastCounter => track(new FastCounter(name, help, labelNames));
    const histogram = (name: string, help: string, labelNames: readonly string[]): FastHistogram => track(new FastHistogram(name, help, labelNames, buckets));
    const pair = (prefix: string, what: string, labelNames: readonly string[]): CountAndLatency => ({
      count: counter(`${prefix}_count`, `The number of ${what}.`, labelNames),
      latency: histogram(`${prefix}_latencies`, `The latency of ${what}, in milliseconds.`, labelNames),
    });
    this.httpRequests = counter('dapr_http_server_request_count', 'Number of HTTP requests started in server.', ['app_id', 'method', 'path']);
    this.httpResponses = counter('dapr_http_server_response_count', 'The number of HTTP responses.', HTTP);
    this.httpLatency = histogram('dapr_http_server_latency', 'HTTP request end to end latency in server, in milliseconds.', HTTP);
    this.errorCodes = counter('dapr_error_code_total', 'Number of times an error with a specific error code was returned.', [
      'app_id',
      'category',
      'error_code',
    ]);
    this.state = pair('dapr_component_state', 'operations performed on the state component', COMPONENT);
    this.secret = pair('dapr_component_secret', 'operations performed on the secret component', COMPONENT);
    this.configuration = pair('dapr_component_configuration', 'operations performed on the configuration component', COMPONENT);
    this.outputBinding = pair('dapr_component_output_binding', 'operations invoked on the output binding component', COMPONENT);
    this.inputBinding = pair('dapr_component_input_binding', 'incoming events from the input binding component (app processing)', INPUT_BINDING);
    this.egress = pair('dapr_component_pubsub_egress', 'outgoing messages published to the pub/sub component', EGRESS);
    this.bulkEgress = pair('dapr_component_pubsub_egress_bulk', 'bulk publish calls to the pub/sub component', EGRESS);
    this.ingress = pair('dapr_component_pubsub_ingress', 'incoming messages from the pub/sub component (app processing)', INGRESS);
    this.bulkIngress = pair('dapr_component_pubsub_ingress_bulk', 'bulk deliveries from the pub/sub component (app processing)', INGRESS);
    this.invokeReqSent = counter('dapr_runtime_service_invocation_req_sent_total', 'The number of requests sent via service invocation.', [
      'app_id',
      'destination_app_id',
      'type',
    ]);
    this.invokeResRecv = counter('dapr_runtime_service_invocation_res_recv_total', 'The number of responses received via service invocation.', [
      'app_id',
      'destination_app_id',
      'status',
      'type',
    ]);
    this.invokeResRecvLatency = histogram(
      'dapr_runtime_service_invocation_res_recv_latency_ms',
      'The latency of service invocation responses, in milliseconds.',
      ['app_id', 'destination_app_id', 'status', 'type'],
    );
    this.invokeReqRecv = counter('dapr_runtime_service_invocation_req_recv_total', 'The number of requests received via service invocation.', [
      'app_id',
      'source_app_id',
      'type',
    ]);
    this.invokeResSent = counter('dapr_runtime_service_invocation_res_sent_total', 'The number of responses sent via service invocation.', [
      'app_id',
      'source_app_id',
      'status',
      'type',
    ]);
    this.componentLoaded = track(new FastGauge('dapr_runtime_component_loaded', 'The number of successfully loaded components.', ['app_id']));
    this.componentInit = counter('dapr_runtime_component_init_total', 'The number of initialized components.', ['app_id', 'component']);
    this.resiliencyLoaded = counter('dapr_resiliency_loaded', 'Number of resiliency policies loaded.', ['app_id', 'name', 'namespace']);
    this.resiliencyCount = counter('dapr_resiliency_count', 'Number of times a resiliency policy has been applied to a building block.', RESILIENCY);
    this.resiliencyActivations = counter(
      'dapr_resiliency_activations_total',
      'Number of times a resiliency policy has been activated in a building block after a failure or after a state change.',
      RESILIENCY,
    );
    this.resiliencyBreakerState = track(
      new FastGauge('dapr_resiliency_cb_state', "A resiliency policy's current circuit breaker state (1 for the current state, 0 for the others).", RESILIENCY),
    );
  }

  /**
   * A prom-client registry with Node's process metrics and these metrics. prom-client (about 80 ms
   * to load) is loaded here, at the first scrape, not at start-up: the per-call path never needs it.
   */
  async registry(): Promise<Registry> {
    const prom = await import('prom-client');
    const registry = new prom.Registry();
    prom.collectDefaultMetrics({ register: registry });
    for (const metric of this.all) metric.attach(registry);
    return registry;
  }
}
