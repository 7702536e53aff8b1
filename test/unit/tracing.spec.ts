import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ConfigError } from '../../src/errors/config.errors';
import { SidekickError } from '../../src/errors/sidekick.error';
import { createPinoLogger } from '../../src/runtime/logger';
import { Interception } from '../../src/runtime/interception/interception';
import { injectTraceContext, withIncomingTraceContext } from '../../src/runtime/interception/trace-context';
import { TracingService } from '../../src/runtime/blocks/tracing/tracing.service';
import { PooledIdGenerator, startTracingSdk, type TracingSdk } from '../../src/runtime/blocks/tracing/tracing.sdk';
import { otlpUrl, resolveTracingSetup } from '../../src/runtime/blocks/tracing/tracing.settings';
import { silentLogger } from '../../src/testing';
import type { StateStore } from '../../src/spi/state.store';

let exporter = new InMemorySpanExporter();

function tracing(appId: string, samplingRate: number): { service: TracingService; sdk: TracingSdk; interception: Interception } {
  // A provider's shutdown stops its exporter: one per provider.
  exporter = new InMemorySpanExporter();
  const sdk = startTracingSdk(appId, { samplingRate, stdout: false }, silentLogger, { spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const service = new TracingService(appId);
  service.attach(sdk, samplingRate);
  return { service, sdk, interception: new Interception([service.interceptor()]) };
}

function store(fail = false): StateStore {
  return {
    features: [],
    get: () => (fail ? Promise.reject(new SidekickError('ERR_STATE_GET', 'boom')) : Promise.resolve(undefined)),
    set: () => Promise.resolve(),
  } as unknown as StateStore;
}

const named = (name: string): ReadableSpan => {
  const span = exporter.getFinishedSpans().find((s) => s.name === name);
  if (!span)
    throw new Error(
      `no span ${name} in ${exporter
        .getFinishedSpans()
        .map((s) => s.name)
        .join(', ')}`,
    );
  return span;
};
const SAMPLED_PARENT = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };

describe('tracing spans (InMemorySpanExporter), samplingRate 1', () => {
  let t: ReturnType<typeof tracing>;
  beforeAll(() => {
    t = tracing('orders', 1);
  });
  afterAll(() => t.sdk.shutdown());
  beforeEach(() => exporter.reset());

  it('a component call is a client span named after the Dapr API method, with the component and building block', async () => {
    const wrapped = t.interception.wrapComponent(store(), 'statestore', 'state.redis', 'state');
    await wrapped.get('k');
    const span = named('/dapr.proto.runtime.v1.Dapr/GetState');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.attributes).toEqual({
      'dapr.api': '/dapr.proto.runtime.v1.Dapr/GetState',
      'dapr.component.name': 'statestore',
      'dapr.component.type': 'state.redis',
      'db.system': 'state',
      'db.name': 'statestore',
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.resource.attributes).toMatchObject({ 'service.name': 'orders', 'dapr.app_id': 'orders' });
  });

  it('a failed call is an error span carrying the error code, and the error reaches the caller', async () => {
    const wrapped = t.interception.wrapComponent(store(true), 'statestore', 'state.redis', 'state');
    await expect(wrapped.get('k')).rejects.toThrow('boom');
    const span = named('/dapr.proto.runtime.v1.Dapr/GetState');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'ERR_STATE_GET' });
    expect(span.attributes['error.type']).toBe('ERR_STATE_GET');
  });

  it('the blocks added later are covered by kind: secrets, configuration, lock', async () => {
    const calls = [
      { kind: 'component' as const, target: 'vault', type: 'secretstores.local.env', operation: 'getSecret' },
      { kind: 'component' as const, target: 'appconfig', type: 'configuration.redis', operation: 'get' },
      { kind: 'component' as const, target: 'lockstore', type: 'lock.redis', operation: 'tryLock' },
    ];
    for (const call of calls) await t.interception.run(call, () => Promise.resolve());
    expect(named('/dapr.proto.runtime.v1.Dapr/GetSecret').attributes).toMatchObject({ 'db.system': 'secrets', 'db.name': 'vault' });
    expect(named('/dapr.proto.runtime.v1.Dapr/GetConfiguration').attributes).toMatchObject({ 'db.system': 'configuration' });
    expect(named('/dapr.proto.runtime.v1.Dapr/TryLockAlpha1').attributes).toMatchObject({ 'db.system': 'lock', 'dapr.component.name': 'lockstore' });
  });

  it('consumer set-up calls (subscribe, read) get no span', async () => {
    await t.interception.run({ kind: 'component', target: 'pubsub', type: 'pubsub.redis', operation: 'subscribe' }, () => Promise.resolve());
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('an API request is a server span named by its path (invoke: CallLocal/app/method), with its children inside', async () => {
    const apiCall = {
      kind: 'api' as const,
      target: 'state.save',
      type: 'http',
      operation: 'POST /v1.0/state/:storename',
      attributes: { path: '/v1.0/state/statestore' },
    };
    const wrapped = t.interception.wrapComponent(store(), 'statestore', 'state.redis', 'state');
    await t.interception.run(apiCall, () => wrapped.set({ key: 'k', value: Buffer.from('1') } as never));
    const api = named('/v1.0/state/statestore');
    expect(api.kind).toBe(SpanKind.SERVER);
    expect(api.attributes).toMatchObject({ 'dapr.api': 'POST /v1.0/state/statestore', 'dapr.protocol': 'http', 'db.system': 'state', 'db.name': 'statestore' });
    expect(named('/dapr.proto.runtime.v1.Dapr/SaveState').parentSpanContext?.spanId).toBe(api.spanContext().spanId);

    const invokePath = '/v1.0/invoke/checkout/method/orders/42';
    await t.interception.run(
      { kind: 'api', target: 'invoke', type: 'http', operation: 'GET /v1.0/invoke/:id/method/*', attributes: { path: invokePath } },
      () => Promise.resolve(),
    );
    expect(named('CallLocal/checkout/orders/42').attributes).toMatchObject({ 'rpc.service': 'ServiceInvocation', 'net.peer.name': 'checkout' });

    await t.interception.run(
      { kind: 'api', target: 'publish', type: 'http', operation: 'POST /v1.0/publish/:pubsub/*', attributes: { path: '/v1.0/publish/pubsub/a/b' } },
      () => Promise.resolve(),
    );
    expect(named('/v1.0/publish/pubsub/a/b').attributes).toMatchObject({ 'messaging.system': 'pubsub', 'messaging.destination.name': 'a/b' });
  });

  it('an outgoing invocation is a client span; a 5xx answer marks it failed; its headers carry its context', async () => {
    const headers: Record<string, unknown> = {};
    const call = { kind: 'invoke' as const, target: 'checkout', type: 'app', operation: 'orders', attributes: { verb: 'POST' } };
    await t.interception.run(call, () => {
      injectTraceContext(headers);
      return Promise.resolve({ status: 503 });
    });
    const span = named('/dapr.proto.internals.v1.ServiceInvocation/CallLocal');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.attributes).toMatchObject({ 'net.peer.name': 'checkout', 'dapr.invoke_method': 'orders', 'http.response.status_code': 503 });
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(headers['traceparent']).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
  });

  it('a self-invocation that came through the HTTP API gets no client span: the API span is its span, as daprd serves it locally', async () => {
    const headers: Record<string, unknown> = {};
    const apiCall = {
      kind: 'api' as const,
      target: 'invoke',
      type: 'http',
      operation: 'GET /v1.0/invoke/:id/method/*',
      attributes: { path: '/v1.0/invoke/app/method/echo' },
    };
    const selfCall = { kind: 'invoke' as const, target: 'app', type: 'app', operation: 'echo', attributes: { verb: 'GET', local: 'api' } };
    await t.interception.run(apiCall, () =>
      t.interception.run(selfCall, () => {
        injectTraceContext(headers);
        return Promise.resolve({ status: 200 });
      }),
    );
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['CallLocal/app/echo']);
    const api = named('CallLocal/app/echo');
    // The app's request (in-process) continues the API span's context.
    expect(headers['traceparent']).toBe(`00-${api.spanContext().traceId}-${api.spanContext().spanId}-01`);
    // The same call made by user code (no API span around it) keeps its client span.
    exporter.reset();
    await t.interception.run({ ...selfCall, attributes: { verb: 'GET' } }, () => Promise.resolve({ status: 200 }));
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['/dapr.proto.internals.v1.ServiceInvocation/CallLocal']);
  });

  it('trace and span ids come from the pooled generator: lowercase hex of the W3C lengths, never all zeros, not repeated', () => {
    const ids = new PooledIdGenerator();
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const traceId = ids.generateTraceId();
      const spanId = ids.generateSpanId();
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(traceId).not.toMatch(/^0+$/);
      expect(spanId).not.toMatch(/^0+$/);
      seen.add(traceId).add(spanId);
    }
    expect(seen.size).toBe(4000);
  });

  it("a delivery is a consumer span continuing the event's trace; the handler's own spans nest under it", async () => {
    const call = { kind: 'delivery' as const, target: 'pubsub', type: 'pubsub', operation: 'Orders.onOrder', attributes: { topic: 'orders' } };
    await withIncomingTraceContext(
      SAMPLED_PARENT,
      () =>
        t.interception.run(call, () => {
          trace.getTracer('user').startSpan('mine').end();
          return Promise.resolve();
        }),
      true,
    );
    const delivery = named('pubsub/orders');
    expect(delivery.kind).toBe(SpanKind.CONSUMER);
    expect(delivery.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(delivery.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(named('mine').parentSpanContext?.spanId).toBe(delivery.spanContext().spanId);
    await t.interception.run({ kind: 'delivery', target: 'cron', type: 'bindings', operation: 'Jobs.tick', attributes: { binding: 'cron' } }, () =>
      Promise.resolve(),
    );
    expect(named('bindings/cron').attributes).toMatchObject({ 'db.system': 'bindings', 'db.name': 'cron' });
  });

  it('log records written inside a span carry trace_id and span_id; outside none', () => {
    const lines: string[] = [];
    const logger = createPinoLogger({ appId: 'orders' }, 'test', { level: 'info', format: 'json', out: { write: (l: string) => lines.push(l) } });
    logger.info('outside');
    const span = trace.getTracer('user').startSpan('logging');
    void withIncomingTraceContext({ traceparent: `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01` }, () => {
      logger.info('inside');
    });
    span.end();
    const [outside, inside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(outside).not.toHaveProperty('trace_id');
    expect(inside).toMatchObject({ msg: 'inside', trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
  });
});

describe('tracing at samplingRate 0', () => {
  let t: ReturnType<typeof tracing>;
  beforeAll(() => {
    t = tracing('orders', 0);
  });
  afterAll(() => t.sdk.shutdown());
  beforeEach(() => exporter.reset());

  it('makes no span without a sampled parent (no span object: the interceptor calls straight through)', async () => {
    const startSpan = jest.spyOn(t.sdk, 'startSpan');
    const wrapped = t.interception.wrapComponent(store(), 'statestore', 'state.redis', 'state');
    await wrapped.get('k');
    await withIncomingTraceContext({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' }, () => wrapped.get('k'));
    expect(startSpan).not.toHaveBeenCalled();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    await withIncomingTraceContext(SAMPLED_PARENT, () => wrapped.get('k'));
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['/dapr.proto.runtime.v1.Dapr/GetState']);
    startSpan.mockRestore();
  });
});

describe('tracing settings', () => {
  it('is off without spec.tracing or an OTLP endpoint in the environment', () => {
    expect(resolveTracingSetup(undefined, {}, 'x')).toBeUndefined();
  });

  it("reads Dapr's otel section (host:port, isSecure) and refuses grpc with what to do", () => {
    expect(
      resolveTracingSetup({ samplingRate: 1, stdout: false, otel: { endpointAddress: 'collector:4318', isSecure: false, protocol: 'http' } }, {}, 'c.yaml'),
    ).toEqual({
      samplingRate: 1,
      stdout: false,
      zipkin: undefined,
      otlp: 'http://collector:4318/v1/traces',
    });
    expect(() =>
      resolveTracingSetup({ samplingRate: 1, stdout: false, otel: { endpointAddress: 'collector:4317', isSecure: false, protocol: 'grpc' } }, {}, 'c.yaml'),
    ).toThrow(ConfigError);
    expect(otlpUrl('collector:4318', true)).toBe('https://collector:4318/v1/traces');
    expect(otlpUrl('http://collector:4318/custom', false)).toBe('http://collector:4318/custom');
  });

  it('turns on with OTEL_EXPORTER_OTLP_ENDPOINT, at OTEL_TRACES_SAMPLER_ARG or Dapr default rate', () => {
    expect(resolveTracingSetup(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318/' }, 'x')).toMatchObject({
      otlp: 'http://otel:4318/v1/traces',
      samplingRate: 0.0001,
    });
    expect(resolveTracingSetup(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318', OTEL_TRACES_SAMPLER_ARG: '0.5' }, 'x')?.samplingRate).toBe(0.5);
  });
});

describe("Sidekick's own spans (SidekickSpan through the SDK's processors)", () => {
  it('read as the SDK reads its own spans: ids, parent, kind, times in whole microseconds, attributes, events, status, resource', async () => {
    const t = tracing('spans', 1);
    try {
      const parent = trace.setSpanContext(ROOT_CONTEXT, {
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        traceFlags: 1,
        isRemote: true,
      });
      const span = t.sdk.startSpan('GET /orders', SpanKind.SERVER, parent);
      span.setAttribute('http.route', '/orders').setAttributes({ n: 1, ok: true, list: ['a', 'b'] });
      span.setAttribute('ignored', undefined as unknown as string); // JavaScript callers can pass it: dropped
      span.addEvent('retry', { attempt: 2 });
      span.recordException(new TypeError('boom'));
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'HTTP 500' });
      span.updateName('GET /orders/:id');
      span.end();
      span.setAttribute('late', 'x'); // after end: ignored, as the SDK does
      const [done] = exporter.getFinishedSpans();
      expect(done?.name).toBe('GET /orders/:id');
      expect(done?.kind).toBe(SpanKind.SERVER);
      expect(done?.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(done?.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(done?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
      expect(done?.attributes).toEqual({ 'http.route': '/orders', n: 1, ok: true, list: ['a', 'b'] });
      expect(done?.events.map((e) => e.name)).toEqual(['retry', 'exception']);
      expect(done?.events[1]?.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'boom' });
      expect(done?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'HTTP 500' });
      expect(done?.resource.attributes).toMatchObject({ 'service.name': 'spans', 'dapr.app_id': 'spans' });
      expect(done?.ended).toBe(true);
      const [s, ns] = done?.startTime ?? [0, 0];
      expect(ns % 1000).toBe(0);
      expect(Math.abs(s * 1000 + ns / 1e6 - Date.now())).toBeLessThan(5000);
      // The duration is end minus start, normalised (whole seconds, nanoseconds below 1e9).
      const [es, ens] = done?.endTime ?? [0, 0];
      const [ds, dns] = done?.duration ?? [-1, -1];
      expect(ds * 1e9 + dns).toBe((es - s) * 1e9 + (ens - ns));
      expect(dns).toBeLessThan(1e9);
      expect(ds).toBe(0);
    } finally {
      await t.sdk.shutdown();
    }
  });

  it("the user's own SDK spans nest under them (the active span is a Sidekick span)", async () => {
    const t = tracing('nesting', 1);
    try {
      const outer = t.sdk.startSpan('outer', SpanKind.SERVER, ROOT_CONTEXT);
      context.with(trace.setSpan(ROOT_CONTEXT, outer), () => {
        const user = trace.getTracer('user').startSpan('user.work');
        user.end();
      });
      outer.end();
      const user = exporter.getFinishedSpans().find((s) => s.name === 'user.work');
      expect(user?.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
      expect(user?.spanContext().traceId).toBe(outer.spanContext().traceId);
    } finally {
      await t.sdk.shutdown();
    }
  });

  it('a root at a rate between 0 and 1 is sampled by trace id; an unsampled root still carries its trace id, with no span recorded', async () => {
    const t = tracing('ratio', 0.5);
    try {
      const made = Array.from({ length: 400 }, () => t.sdk.startSpan('root', SpanKind.SERVER, ROOT_CONTEXT));
      for (const span of made) span.end();
      const recorded = exporter.getFinishedSpans().length;
      expect(recorded).toBeGreaterThan(120);
      expect(recorded).toBeLessThan(280);
      const unsampled = made.filter((s) => (s.spanContext().traceFlags & 1) === 0);
      expect(unsampled.length).toBe(400 - recorded);
      expect(unsampled.every((s) => !s.isRecording() && /^[0-9a-f]{32}$/.test(s.spanContext().traceId))).toBe(true);
    } finally {
      await t.sdk.shutdown();
    }
  });
});
