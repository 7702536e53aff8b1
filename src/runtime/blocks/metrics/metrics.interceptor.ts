import { performance } from 'node:perf_hooks';
import type { MetricSettings } from '../../../config/configuration.loader';
import type { CallInfo, Interceptor } from '../../../spi/interceptor';
import { toApiError } from '../../http-api/api-context';
import type { HttpPathLabeler } from './http-path';
import type { CounterChild, HistogramChild } from './fast-metrics';
import type { CountAndLatency, DaprMetrics } from './metrics.registry';

/** How one kind of call is measured: bound label sets, resolved once per call site where possible. */
interface Recorder {
  begin?(): void;
  ok(value: unknown, ms: number): void;
  fail(err: unknown, ms: number): void;
}

type Labels = Record<string, string>;

/** daprd's operation names for state calls (`dapr_component_state_*{operation}`). */
const STATE_OPERATIONS: Readonly<Record<string, string>> = { get: 'get', bulkGet: 'bulk_get', set: 'set', delete: 'delete', transact: 'transaction' };
const SECRET_OPERATIONS: Readonly<Record<string, string>> = { getSecret: 'get', bulkGetSecret: 'bulk_get' };

/** Most per-topic (or per-operation) recorders kept; past it they are built per call (still correct, a little slower). */
const MAX_CACHED = 10_000;

/**
 * Dapr's metrics at the interception seam: HTTP API requests (`dapr_http_server_*`), component calls
 * (`dapr_component_{state,secret,configuration}_*`, pub/sub egress, output bindings), deliveries
 * (pub/sub ingress with `process_status` success/retry/drop, input bindings) and service invocation
 * (`dapr_runtime_service_invocation_*`). Latencies in milliseconds, as daprd's.
 */
export function metricsInterceptor(dapr: DaprMetrics, base: Labels, appId: string, settings: MetricSettings, paths: HttpPathLabeler): Interceptor {
  const stable = new WeakMap<CallInfo, Recorder | null>();
  const keyed = new Map<string, Recorder | null>();
  const api = new ApiRecorders(dapr, base, settings, paths);

  const recorderFor = (call: CallInfo): Recorder | null => {
    if (call.kind === 'api') return api.for(call);
    // Component calls and deliveries come with one CallInfo per call site (and topic): found by the object.
    if (call.kind !== 'invoke' || !call.attributes) {
      let found = stable.get(call);
      if (found === undefined) {
        found = call.attributes ? keyedRecorder(call) : build(dapr, base, appId, call);
        stable.set(call, found);
      }
      return found;
    }
    return keyedRecorder(call);
  };

  const keyedRecorder = (call: CallInfo): Recorder | null => {
    const attributes = call.attributes ?? {};
    const key = `${call.kind}\u0000${call.type}\u0000${call.target}\u0000${call.operation}\u0000${attributes['topic'] ?? ''}\u0000${attributes['operation'] ?? ''}\u0000${attributes['bulk'] ?? ''}`;
    let found = keyed.get(key);
    if (found === undefined) {
      found = build(dapr, base, appId, call);
      if (keyed.size < MAX_CACHED) keyed.set(key, found);
    }
    return found;
  };

  return {
    name: 'metrics',
    intercept<T>(call: CallInfo, next: () => Promise<T>): Promise<T> {
      const recorder = recorderFor(call);
      if (!recorder) return next();
      recorder.begin?.();
      const start = performance.now();
      return next().then(
        (value) => {
          recorder.ok(value, performance.now() - start);
          return value;
        },
        (err: unknown) => {
          recorder.fail(err, performance.now() - start);
          throw err;
        },
      );
    },
  };
}

function build(dapr: DaprMetrics, base: Labels, appId: string, call: CallInfo): Recorder | null {
  if (call.kind === 'component') return componentRecorder(dapr, base, call);
  if (call.kind === 'delivery') return deliveryRecorder(dapr, base, call);
  if (call.kind === 'invoke') return invokeRecorder(dapr, base, appId, call);
  return null;
}

/** A success/failure pair of bound children of a count and a latency. */
function successPair(pair: CountAndLatency, labels: Labels): Recorder {
  const ok = bind(pair, { ...labels, success: 'true' });
  const failed = bind(pair, { ...labels, success: 'false' });
  return {
    ok: (_value, ms) => {
      ok.count.inc();
      ok.latency.observe(ms);
    },
    fail: (_err, ms) => {
      failed.count.inc();
      failed.latency.observe(ms);
    },
  };
}

function bind(pair: CountAndLatency, labels: Labels): { count: CounterChild; latency: HistogramChild } {
  return { count: pair.count.labels(labels), latency: pair.latency.labels(labels) };
}

function componentRecorder(dapr: DaprMetrics, base: Labels, call: CallInfo): Recorder | null {
  const kind = call.type.split('.')[0];
  const component = { ...base, component: call.target };
  switch (kind) {
    case 'state': {
      const operation = STATE_OPERATIONS[call.operation];
      return operation ? successPair(dapr.state, { ...component, operation }) : null;
    }
    case 'secretstores': {
      const operation = SECRET_OPERATIONS[call.operation];
      return operation ? successPair(dapr.secret, { ...component, operation }) : null;
    }
    case 'configuration':
      return successPair(dapr.configuration, { ...component, operation: call.operation });
    case 'pubsub': {
      if (call.operation !== 'publish' && call.operation !== 'bulkPublish') return null;
      const topic = call.attributes?.['topic'];
      return successPair(call.operation === 'publish' ? dapr.egress : dapr.bulkEgress, topic ? { ...component, topic } : component);
    }
    case 'bindings': {
      if (call.operation !== 'invoke') return null;
      const operation = call.attributes?.['operation'];
      return successPair(dapr.outputBinding, operation ? { ...component, operation } : component);
    }
    default:
      return null;
  }
}

function deliveryRecorder(dapr: DaprMetrics, base: Labels, call: CallInfo): Recorder | null {
  const component = { ...base, component: call.target };
  if (call.type === 'bindings') return successPair(dapr.inputBinding, component);
  if (call.type !== 'pubsub') return null;
  const topic = call.attributes?.['topic'];
  const labels = topic ? { ...component, topic } : component;
  const pair = call.attributes?.['bulk'] === 'true' ? dapr.bulkIngress : dapr.ingress;
  const outcome = (status: 'success' | 'retry' | 'drop'): ReturnType<typeof bind> => bind(pair, { ...labels, process_status: status, status });
  const success = outcome('success');
  const retry = outcome('retry');
  const drop = outcome('drop');
  return {
    ok: (value, ms) => {
      const bound = (value as { status?: unknown } | undefined)?.status === 'drop' ? drop : success;
      bound.count.inc();
      bound.latency.observe(ms);
    },
    fail: (_err, ms) => {
      retry.count.inc();
      retry.latency.observe(ms);
    },
  };
}

function invokeRecorder(dapr: DaprMetrics, base: Labels, appId: string, call: CallInfo): Recorder {
  const destination = { ...base, destination_app_id: call.target, type: 'unary' };
  const sent = dapr.invokeReqSent.labels(destination);
  const self = call.target === appId ? { ...base, source_app_id: appId, type: 'unary' } : undefined;
  const received = self ? dapr.invokeReqRecv.labels(self) : undefined;
  const byStatus = new Map<string, { recv: CounterChild; latency: HistogramChild; sent?: CounterChild }>();
  const done = (status: string, ms: number): void => {
    let bound = byStatus.get(status);
    if (!bound) {
      bound = {
        recv: dapr.invokeResRecv.labels({ ...destination, status }),
        latency: dapr.invokeResRecvLatency.labels({ ...destination, status }),
        sent: self ? dapr.invokeResSent.labels({ ...self, status }) : undefined,
      };
      byStatus.set(status, bound);
    }
    bound.recv.inc();
    bound.latency.observe(ms);
    bound.sent?.inc();
  };
  return {
    begin: () => {
      sent.inc();
      received?.inc();
    },
    ok: (value, ms) => done(String((value as { status?: unknown } | undefined)?.status ?? 200), ms),
    fail: (err, ms) => done(String(statusOf(err)), ms),
  };
}

function statusOf(err: unknown): number {
  const status = (err as { httpStatus?: unknown } | undefined)?.httpStatus;
  return typeof status === 'number' ? status : 500;
}

/** HTTP API requests: children cached by method, path label and status (all bounded). */
class ApiRecorders {
  private readonly requests = new Map<string, CounterChild>();
  private readonly responses = new Map<string, { count: CounterChild; latency: HistogramChild }>();

  constructor(
    private readonly dapr: DaprMetrics,
    private readonly base: Labels,
    private readonly settings: MetricSettings,
    private readonly paths: HttpPathLabeler,
  ) {}

  for(call: CallInfo): Recorder {
    const space = call.operation.indexOf(' ');
    const verb = space === -1 ? call.operation : call.operation.slice(0, space);
    const template = space === -1 ? '' : call.operation.slice(space + 1);
    const method = this.settings.http.excludeVerbs ? undefined : verb;
    const path = this.paths.labelled ? this.paths.label(template, call.attributes?.['path'] ?? template) : undefined;
    const category = call.target.split('.')[0] ?? '';
    return {
      begin: () => this.request(method, path).inc(),
      ok: (value, ms) => this.respond(method, path, typeof value === 'number' ? value : 200, ms),
      fail: (err, ms) => {
        const apiError = toApiError(err, undefined);
        this.respond(method, path, apiError.httpStatus, ms);
        if (this.settings.recordErrorCodes) this.dapr.errorCodes.inc({ app_id: this.base['app_id'] ?? '', category, error_code: apiError.code });
      },
    };
  }

  private request(method: string | undefined, path: string | undefined): CounterChild {
    const key = `${method ?? ''} ${path ?? ''}`;
    let child = this.requests.get(key);
    if (!child) {
      child = this.dapr.httpRequests.labels(this.labels(method, path));
      this.requests.set(key, child);
    }
    return child;
  }

  private respond(method: string | undefined, path: string | undefined, status: number, ms: number): void {
    const key = `${method ?? ''} ${path ?? ''} ${status}`;
    let child = this.responses.get(key);
    if (!child) {
      const labels = { ...this.labels(method, path), status: String(status) };
      child = { count: this.dapr.httpResponses.labels(labels), latency: this.dapr.httpLatency.labels(labels) };
      this.responses.set(key, child);
    }
    child.count.inc();
    child.latency.observe(ms);
  }

  private labels(method: string | undefined, path: string | undefined): Labels {
    const out: Labels = { app_id: this.base['app_id'] ?? '' };
    if (method) out['method'] = method;
    if (path) out['path'] = path;
    return out;
  }
}
