import { type Context, context, INVALID_SPANID, INVALID_TRACEID, propagation, ROOT_CONTEXT, trace, type TextMapGetter } from '@opentelemetry/api';

/**
 * W3C trace context (`traceparent`, `tracestate`) carried across the edges the runtime owns: Dapr
 * HTTP API requests in, service invocations out, CloudEvents out and in. Only `@opentelemetry/api`
 * is used here, whose globals are no-ops until the tracing block registers the SDK (when the app's
 * Configuration has `spec.tracing`): without tracing, `extract` and `inject` return at once and no
 * context is ever entered (AsyncLocalStorage stays off). Spans themselves are made by the tracing
 * block's interceptor, never here.
 */

type Carrier = Readonly<Record<string, unknown>>;

const getter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    if (typeof value === 'string') return value === '' ? undefined : value;
    if (Array.isArray(value) && typeof value[0] === 'string') return value[0] as string;
    return undefined;
  },
};

/**
 * Runs `fn` with the trace context found in `carrier` (request headers, a CloudEvent, binding
 * metadata) as the active one, so the spans `fn` makes are its children. `fn` runs as is when the
 * carrier holds none or tracing is off. `fresh`: ignore the context already active (a delivery from
 * a broker starts from the event's context, not from whatever the consumer loop had).
 */
export function withIncomingTraceContext<T>(carrier: Carrier | undefined, fn: () => T, fresh = false): T {
  const active = context.active();
  const target = incomingTraceContext(carrier, fresh ? ROOT_CONTEXT : active);
  // Without tracing the active context is always the root one and extract returns its input: no context is entered.
  return target === active ? fn() : context.with(target, fn);
}

/**
 * The context `carrier`'s trace context makes on top of `base` (`base` itself when the carrier holds
 * none or tracing is off), without entering it: for a caller that enters its own child context anyway.
 */
export function incomingTraceContext(carrier: Carrier | undefined, base: Context): Context {
  const header = carrier?.['traceparent'];
  const given = (typeof header === 'string' && header !== '') || Array.isArray(header);
  return given && carrier ? propagation.extract(base, carrier, getter) : base;
}

/**
 * Set on a request the invoke block dispatches into the app in-process: it runs in its caller's
 * context, whose span (if any) wrote the request's `traceparent`, so that context is its parent as is
 * (the header need not be parsed back).
 */
export const IN_PROCESS_REQUEST: unique symbol = Symbol('sidekick.inProcessRequest');

/**
 * The parent context of a request to the app's own routes: the caller's active context for an
 * in-process dispatch made inside a span, else the request's `traceparent` on top of `active`.
 */
export function requestTraceContext(req: { readonly headers: Carrier; readonly [IN_PROCESS_REQUEST]?: boolean }, active: Context): Context {
  if (req[IN_PROCESS_REQUEST] === true && trace.getSpan(active) !== undefined) return active;
  return incomingTraceContext(req.headers, active);
}

/** The W3C flags byte as two hex digits, by value. */
const FLAGS: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Writes the active span's `traceparent` (and `tracestate`) into `target` (outgoing headers, a
 * CloudEvent), replacing what was there. Leaves `target` alone when no span is active. Returns
 * whether it wrote. Always W3C trace context, as Dapr propagates it (formatted here directly: this
 * runs on every traced call and response, and the propagator API's generic carrier walk costs more).
 */
export function injectTraceContext(target: Record<string, unknown>): boolean {
  const sc = trace.getSpan(context.active())?.spanContext();
  if (!sc || sc.traceId === INVALID_TRACEID || sc.spanId === INVALID_SPANID) return false;
  const traceparent = `00-${sc.traceId}-${sc.spanId}-${FLAGS[sc.traceFlags & 0xff] as string}`;
  const before = target['traceparent'];
  target['traceparent'] = traceparent;
  if (sc.traceState) {
    const state = sc.traceState.serialize();
    if (state) target['tracestate'] = state;
  }
  return traceparent !== before;
}

/** True inside a span (tracing on and a call being traced). */
export function hasActiveSpan(): boolean {
  return trace.getSpan(context.active()) !== undefined;
}

/** The active span's ids for log lines (`trace_id`, `span_id`), or undefined outside a span. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const sc = trace.getSpan(context.active())?.spanContext();
  if (!sc || sc.traceId === '00000000000000000000000000000000') return undefined;
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

/** Sets an attribute on the active span, if any (e.g. the topic of a publish, known only inside it). */
export function annotateActiveSpan(key: string, value: string | number): void {
  trace.getSpan(context.active())?.setAttribute(key, value);
}
