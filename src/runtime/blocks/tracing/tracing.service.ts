import { context, type Context, type Span, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isSidekickError } from '../../../errors/sidekick.error';
import type { CallInfo, Interceptor } from '../../../spi/interceptor';
import { requestTraceContext } from '../../interception/trace-context';
import { planSpan, type SpanPlan, type SpanRole } from './span-naming';
import type { TracingSdk } from './tracing.sdk';

const KINDS: Readonly<Record<SpanRole, SpanKind>> = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  consumer: SpanKind.CONSUMER,
  internal: SpanKind.INTERNAL,
};

/**
 * A span plan ready for `startSpan`: the options (kind) and attributes made once per call site, not
 * per call. The attributes are set on the started span rather than passed to `startSpan`, which
 * copies and checks them twice more for the sampler (Sidekick's samplers never read them).
 */
interface PreparedSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly attributes: Readonly<Record<string, string>>;
  readonly leaf: boolean;
}

/** Distinct invoke (target, method, verb) and API (method, path) plans kept each; a cache is emptied when full (paths and methods may carry keys and ids). */
const MAX_KEYED_PLANS = 256;

/** Marks a request whose server span is made (the middleware may be applied twice by Nest). */
const TRACED = Symbol('sidekick.traced');

/**
 * Tracing as the app sees it: off (the default: no SDK loaded, every method returns at once), or on
 * with the SDK's processors and exporters shipping Sidekick's own spans (`SidekickSpan`). Makes the
 * spans of intercepted calls (`interceptor()`) and the server span of the app's own incoming requests
 * (`handleIncoming`, run by the Nest middleware).
 */
export class TracingService {
  private readonly plans = new WeakMap<CallInfo, PreparedSpan | null>();
  /** Invoke calls get a fresh CallInfo each time: their plans are keyed by target, method and verb. */
  private readonly invokePlans = new Map<string, PreparedSpan | null>();
  /** Dapr HTTP API requests: keyed by method and path. */
  private readonly apiPlans = new Map<string, PreparedSpan | null>();
  private sdk?: TracingSdk;
  /** No root span is ever sampled (rate 0): calls without a sampled parent skip all span work. */
  private rootsOff = true;

  constructor(private readonly appId: string) {}

  /** Turns tracing on with a started SDK (at module init, once the Configuration is read). */
  attach(sdk: TracingSdk, samplingRate: number): void {
    this.sdk = sdk;
    this.rootsOff = samplingRate <= 0;
  }

  /** True when the app traces (the Configuration has `spec.tracing`, or an OTLP endpoint is set). */
  get enabled(): boolean {
    return this.sdk !== undefined;
  }

  /** Flushes buffered spans to the exporters and stops. */
  async shutdown(): Promise<void> {
    await this.sdk?.shutdown();
  }

  /** The interceptor that makes one span per intercepted call (outermost: it sees retries as one call). */
  interceptor(): Interceptor {
    return { name: 'tracing', intercept: (call, next) => this.trace(call, next) };
  }

  private plan(call: CallInfo): PreparedSpan | undefined {
    switch (call.kind) {
      case 'api': {
        // The path (keys, ids) is in the name: keyed by method and path, the cache emptied when full.
        const key = `${call.operation}\u0000${call.attributes?.['path'] ?? ''}`;
        let plan = this.apiPlans.get(key);
        if (plan === undefined) {
          plan = prepare(planSpan(call)) ?? null;
          if (this.apiPlans.size >= MAX_KEYED_PLANS) this.apiPlans.clear();
          this.apiPlans.set(key, plan);
        }
        return plan ?? undefined;
      }
      case 'invoke': {
        const key = `${call.target}\u0000${call.operation}\u0000${call.attributes?.['verb'] ?? ''}\u0000${call.attributes?.['local'] ?? ''}`;
        let plan = this.invokePlans.get(key);
        if (plan === undefined) {
          plan = prepare(planSpan(call)) ?? null;
          if (this.invokePlans.size >= MAX_KEYED_PLANS) this.invokePlans.clear();
          this.invokePlans.set(key, plan);
        }
        return plan ?? undefined;
      }
      default: {
        // Component and delivery calls reuse one CallInfo per call site: plan once.
        let plan = this.plans.get(call);
        if (plan === undefined) {
          plan = prepare(planSpan(call)) ?? null;
          this.plans.set(call, plan);
        }
        return plan ?? undefined;
      }
    }
  }

  private trace<T>(call: CallInfo, next: () => Promise<T>): Promise<T> {
    const sdk = this.sdk;
    if (!sdk) return next();
    const parent = context.active();
    if (!this.worthASpan(parent)) return next();
    const plan = this.plan(call);
    if (!plan) return next();
    const span = sdk.startSpan(plan.name, plan.kind, parent).setAttributes(plan.attributes);
    let work: Promise<T>;
    try {
      // A leaf (a state, secret, binding... component call) has nothing under it that reads the
      // active context: its span is started with the parent given explicitly and no context is entered.
      work = plan.leaf ? next() : context.with(trace.setSpan(parent, span), next);
    } catch (err) {
      failed(span, err);
      span.end();
      throw err;
    }
    return work.then(
      (result) => {
        if (call.kind === 'invoke') invokeStatus(span, result);
        span.end();
        return result;
      },
      (err: unknown) => {
        failed(span, err);
        span.end();
        throw err;
      },
    );
  }

  /**
   * The sampler's decision, cheaply, before any span object exists: a sampled parent → yes; an
   * unsampled parent → no (parent-based); no parent → no when the rate is 0, else the SDK decides.
   */
  private worthASpan(parent: Context): boolean {
    const sc = trace.getSpanContext(parent);
    if (sc) return (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
    return !this.rootsOff;
  }

  /**
   * The server span of one request to the app's own routes (Nest middleware): the parent is the
   * request's `traceparent`; the handler, and the state calls, publishes and invocations it makes,
   * run inside it. Named `{METHOD} {route}` once the route is known (at the response's end).
   */
  handleIncoming(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    const sdk = this.sdk;
    const marked = req as IncomingMessage & { [TRACED]?: boolean };
    if (!sdk || marked[TRACED]) return next();
    marked[TRACED] = true;
    // One context switch: the request's server span under its remote parent (not the remote parent, then the span).
    const active = context.active();
    const parent = requestTraceContext(req, active);
    if (!this.worthASpan(parent)) {
      if (parent === active) next();
      else context.with(parent, next);
      return;
    }
    const method = req.method ?? 'GET';
    const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const span = sdk.startSpan(`${method} ${path}`, SpanKind.SERVER, parent);
    span.setAttribute('http.request.method', method);
    span.setAttribute('url.path', path);
    const sc = span.spanContext();
    if (!res.headersSent) res.setHeader('traceparent', `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`);
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      const route = (req as { route?: { path?: unknown } }).route?.path;
      if (typeof route === 'string') {
        span.updateName(`${method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${res.statusCode}` });
      span.end();
    };
    // 'close' comes after 'finish' when the response is sent, alone when the connection drops: one listener serves both
    // (`on`, not `once`: `end` runs once anyway, and `once` costs a wrapper and a removal per request).
    res.on('close', end);
    context.with(trace.setSpan(parent, span), next);
  }
}

function prepare(plan: SpanPlan | undefined): PreparedSpan | undefined {
  if (!plan) return undefined;
  // The span copies the attributes: the same frozen objects serve every call.
  return { name: plan.name, kind: KINDS[plan.role], attributes: Object.freeze(plan.attributes), leaf: plan.leaf };
}

function failed(span: Span, err: unknown): void {
  const code = isSidekickError(err) ? err.code : undefined;
  const status = isSidekickError(err) ? err.httpStatus : undefined;
  if (code) span.setAttribute('error.type', code);
  if (status !== undefined) span.setAttribute('dapr.status_code', status);
  span.setStatus({ code: SpanStatusCode.ERROR, message: code ?? (err instanceof Error ? err.name : 'error') });
}

function invokeStatus(span: Span, result: unknown): void {
  const status = (result as { status?: unknown } | undefined)?.status;
  if (typeof status !== 'number') return;
  span.setAttribute('http.response.status_code', status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
}
