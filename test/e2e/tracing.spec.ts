import { Body, Controller, Get, Injectable, Post } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { captureLogs, type CapturingLogger } from '../../src/testing';
import { SidekickClient, Subscribe, type TopicEvent } from '../../src';
import { startApp, type TestApp } from '../support/app';
import { Collector, eventually } from '../support/collector';

/** A span as the `stdout` exporter logs it. */
interface LoggedSpan {
  readonly span: string;
  readonly trace_id: string;
  readonly span_id: string;
  readonly parent_span_id?: string;
  readonly kind: number;
  readonly status: number;
  readonly attributes: Record<string, unknown>;
}

function spans(logs: CapturingLogger): LoggedSpan[] {
  return logs.lines.filter((l) => l.msg === 'span').map((l) => l.fields as unknown as LoggedSpan);
}

const delivered = new Collector<TopicEvent<{ orderId: number }>>();

@Injectable()
class OrderHandler {
  @Subscribe({ pubsub: 'pubsub', topic: 'traced-orders' })
  async onOrder(event: TopicEvent<{ orderId: number }>): Promise<void> {
    // The user's own span nests under the delivery's.
    await trace.getTracer('user').startActiveSpan('user.ship', async (span) => {
      span.end();
      await Promise.resolve();
    });
    delivered.push(event);
  }
}

@Controller()
class OrderController {
  constructor(private readonly sidekick: SidekickClient) {}

  @Post('orders')
  async create(@Body() body: { orderId: number }): Promise<{ echoed: unknown }> {
    await this.sidekick.state('statestore').save('order', body);
    await this.sidekick.publish('pubsub', 'traced-orders', body);
    const echoed = await this.sidekick.invoke('traced', 'echo', undefined, { httpVerb: 'GET' });
    return { echoed };
  }

  @Get('echo')
  echo(): { ok: true } {
    return { ok: true };
  }
}

const SECRET = 'hunter2-trace-secret-value';
const TOKEN = 'tok-trace-4c1f7a';

describe('tracing (spec.tracing with samplingRate 1, spans logged by stdout)', () => {
  const logs = captureLogs();
  let t: TestApp;
  beforeAll(async () => {
    process.env['SK_TRACE_SECRET'] = SECRET;
    t = await startApp(
      {
        appId: 'traced',
        logger: logs,
        config: { tracing: { samplingRate: '1', stdout: true } },
        httpApi: { apiToken: TOKEN },
        components: [
          { metadata: { name: 'envsecrets' }, spec: { type: 'secretstores.local.env', version: 'v1' } },
          {
            metadata: { name: 'statestore' },
            spec: { type: 'state.in-memory', version: 'v1', metadata: [{ name: 'password', secretKeyRef: { name: 'SK_TRACE_SECRET' } }] },
            auth: { secretStore: 'envsecrets' },
          },
        ],
      },
      { controllers: [OrderController], providers: [OrderHandler] },
    );
  });
  afterAll(async () => {
    await t.close();
    delete process.env['SK_TRACE_SECRET'];
  });

  it('makes one trace of a request to the app: its state call, publish, delivery, user span and self-invocation', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const res = await fetch(`${t.appUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ orderId: 7, note: SECRET }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    await delivered.waitFor(1);
    const event = delivered.items[0];
    expect(event?.envelope.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(event?.envelope.traceid).toBe(event?.envelope.traceparent);

    await eventually(() => spans(logs).some((s) => s.span === 'user.ship'), 5000, 'the user span');
    const all = spans(logs).filter((s) => s.trace_id === traceId);
    const byName = (name: string): LoggedSpan => {
      const found = all.find((s) => s.span === name);
      if (!found) throw new Error(`no span ${name} in ${all.map((s) => s.span).join(', ')}`);
      return found;
    };
    const server = byName('POST /orders');
    expect(server.parent_span_id).toBe(callerSpan);
    expect(server.attributes).toMatchObject({ 'http.route': '/orders', 'http.response.status_code': 201 });

    const save = byName('/dapr.proto.runtime.v1.Dapr/SaveState');
    expect(save.parent_span_id).toBe(server.span_id);
    expect(save.attributes).toMatchObject({
      'db.system': 'state',
      'db.name': 'statestore',
      'dapr.component.name': 'statestore',
      'dapr.component.type': 'state.in-memory',
      'dapr.api': '/dapr.proto.runtime.v1.Dapr/SaveState',
    });

    const publish = byName('/dapr.proto.runtime.v1.Dapr/PublishEvent');
    expect(publish.parent_span_id).toBe(server.span_id);
    expect(publish.attributes).toMatchObject({ 'messaging.system': 'pubsub', 'messaging.destination.name': 'traced-orders', 'dapr.component.name': 'pubsub' });
    expect(event?.envelope.traceparent).toBe(`00-${traceId}-${publish.span_id}-01`);

    const delivery = byName('pubsub/traced-orders');
    expect(delivery.parent_span_id).toBe(publish.span_id);
    expect(delivery.attributes).toMatchObject({ 'messaging.destination.name': 'traced-orders', 'dapr.handler': 'OrderHandler.onOrder' });
    expect(byName('user.ship').parent_span_id).toBe(delivery.span_id);

    const invoke = byName('/dapr.proto.internals.v1.ServiceInvocation/CallLocal');
    expect(invoke.parent_span_id).toBe(server.span_id);
    expect(invoke.attributes).toMatchObject({ 'rpc.service': 'ServiceInvocation', 'net.peer.name': 'traced', 'dapr.invoke_method': 'echo' });
    expect(byName('GET /echo').parent_span_id).toBe(invoke.span_id);
  });

  it('traces Dapr HTTP API requests as daprd names them, and answers with the span context', async () => {
    const res = await fetch(`${t.apiUrl}/v1.0/state/statestore`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'dapr-api-token': TOKEN },
      body: JSON.stringify([{ key: 'k1', value: { secret: SECRET } }]),
    });
    expect(res.status).toBe(204);
    const traceparent = res.headers.get('traceparent') ?? '';
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const [, traceId, spanId] = traceparent.split('-');
    await eventually(() => spans(logs).some((s) => s.span_id === spanId), 5000, 'the API span');
    const api = spans(logs).find((s) => s.span_id === spanId);
    expect(api).toMatchObject({ span: '/v1.0/state/statestore', kind: 1 });
    expect(api?.attributes).toMatchObject({
      'dapr.api': 'POST /v1.0/state/statestore',
      'dapr.protocol': 'http',
      'db.system': 'state',
      'db.name': 'statestore',
    });
    const save = spans(logs).find((s) => s.trace_id === traceId && s.span === '/dapr.proto.runtime.v1.Dapr/SaveState');
    expect(save?.parent_span_id).toBe(spanId);

    const invoked = await fetch(`${t.apiUrl}/v1.0/invoke/traced/method/echo`, { headers: { 'dapr-api-token': TOKEN } });
    expect(invoked.status).toBe(200);
    const [, invokeTrace] = (invoked.headers.get('traceparent') ?? '').split('-');
    await eventually(() => spans(logs).some((s) => s.trace_id === invokeTrace && s.span === 'CallLocal/traced/echo'), 5000, 'the invoke API span');
  });

  it('marks failures: a missing store is an error span with the error code', async () => {
    const res = await fetch(`${t.apiUrl}/v1.0/state/nostore/k`, { headers: { 'dapr-api-token': TOKEN } });
    expect(res.status).toBe(400);
    const [, , spanId] = (res.headers.get('traceparent') ?? '').split('-');
    await eventually(() => spans(logs).some((s) => s.span_id === spanId), 5000, 'the failed API span');
    const failed = spans(logs).find((s) => s.span_id === spanId);
    expect(failed?.status).toBe(2);
    expect(failed?.attributes).toMatchObject({ 'error.type': 'ERR_STATE_STORE_NOT_FOUND', 'dapr.status_code': 400 });
  });

  it('never puts secrets, secretKeyRef values or the API token in spans', () => {
    const exported = JSON.stringify(spans(logs));
    expect(exported.length).toBeGreaterThan(1000);
    expect(exported).not.toContain(SECRET);
    expect(exported).not.toContain(TOKEN);
  });
});

describe('tracing at sampling rate 0', () => {
  const logs = captureLogs();
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(
      { appId: 'untraced', logger: logs, config: { tracing: { samplingRate: '0', stdout: true } } },
      { controllers: [OrderController], providers: [OrderHandler] },
    );
  });
  afterAll(() => t.close());

  it('makes no span for calls without a sampled parent, and follows a sampled one', async () => {
    const plain = await fetch(`${t.apiUrl}/v1.0/state/statestore/none`);
    expect(plain.status).toBe(204);
    expect(plain.headers.get('traceparent')).toBeNull();
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const sampled = await fetch(`${t.apiUrl}/v1.0/state/statestore/none`, { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
    expect(sampled.status).toBe(204);
    await eventually(
      () => spans(logs).some((s) => s.trace_id === traceId && s.span === '/dapr.proto.runtime.v1.Dapr/GetState'),
      5000,
      'spans of the sampled request',
    );
    expect(spans(logs).every((s) => s.trace_id === traceId)).toBe(true);
  });
});

describe('spec.tracing.otel with protocol grpc', () => {
  it('is refused at start-up, saying what to use', async () => {
    await expect(startApp({ appId: 'grpc-app', config: { tracing: { otel: { endpointAddress: '127.0.0.1:4317', protocol: 'grpc' } } } })).rejects.toThrow(
      /otel.protocol "grpc" is not supported.*protocol: http/,
    );
  });
});

@Controller()
class HelloController {
  @Get('hello')
  hello(): { hello: string } {
    return { hello: 'world' };
  }
}

describe('tracing across two apps: service invocation over HTTP', () => {
  const callerLogs = captureLogs();
  const calleeLogs = captureLogs();
  let caller: TestApp;
  let callee: TestApp;
  beforeAll(async () => {
    const config = { tracing: { samplingRate: '1', stdout: true } };
    callee = await startApp({ appId: 'callee', logger: calleeLogs, config }, { controllers: [HelloController] });
    caller = await startApp({ appId: 'caller', logger: callerLogs, config, nameResolution: { static: { callee: callee.appUrl } } });
  });
  afterAll(async () => {
    await caller.close();
    await callee.close();
  });

  it("the callee's server span is a child of the caller's invoke span, in the caller's trace", async () => {
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4737';
    const res = await fetch(`${caller.apiUrl}/v1.0/invoke/callee/method/hello`, { headers: { traceparent: `00-${traceId}-10f067aa0ba902b7-01` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hello: 'world' });
    // The answer carries the trace (the callee's span context, passed back with its headers).
    expect(res.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    await eventually(() => spans(calleeLogs).some((s) => s.trace_id === traceId), 5000, "the callee's span");
    await eventually(() => spans(callerLogs).some((s) => s.span === 'CallLocal/callee/hello'), 5000, "the caller's API span");
    const api = spans(callerLogs).find((s) => s.span === 'CallLocal/callee/hello');
    const invoke = spans(callerLogs).find((s) => s.span === '/dapr.proto.internals.v1.ServiceInvocation/CallLocal');
    const served = spans(calleeLogs).find((s) => s.span === 'GET /hello');
    expect(api).toMatchObject({ trace_id: traceId, parent_span_id: '10f067aa0ba902b7' });
    expect(invoke).toMatchObject({ trace_id: traceId, parent_span_id: api?.span_id });
    expect(served).toMatchObject({ trace_id: traceId, parent_span_id: invoke?.span_id });
  });
});
