import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/app';
import { ensureBuilt, freePort, type Proc, ROOT, startNode, startProcess, waitHealthy } from '../support/processes';
import { redisHostPort, requireRedis, requireZipkin } from '../support/services';
import { spanNamed, tracesSince, waitForTrace, zipkinConfigFile, type ZipkinSpan } from '../support/zipkin';

/**
 * The samples with tracing on (a Configuration with `spec.tracing.zipkin`, given by SIDEKICK_CONFIG),
 * exporting to a real Zipkin; each flow is read back from Zipkin's HTTP API as one trace.
 */

const HELLO = join(ROOT, 'samples/01-hello-world');
const HELLO_JS = join(ROOT, 'dist/samples/01-hello-world/src/main.js');
const PUBSUB = join(ROOT, 'samples/02-pubsub');
const PUBSUB_DIST = join(ROOT, 'dist/samples/02-pubsub/src');

const running: Proc[] = [];

beforeAll(async () => {
  await requireZipkin();
  await ensureBuilt([HELLO_JS, join(PUBSUB_DIST, 'checkout.main.js')]);
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
});

async function appEnv(extra: Record<string, string>): Promise<{ env: Record<string, string>; apiUrl: string }> {
  const dir = tempDir('sidekick-zipkin-app-');
  const apiPort = await freePort();
  return {
    apiUrl: `http://127.0.0.1:${apiPort}`,
    env: {
      PORT: String(await freePort()),
      SIDEKICK_HTTP_PORT: String(apiPort),
      SIDEKICK_REGISTRY_DIR: join(dir, 'registry'),
      SIDEKICK_DATA_DIR: join(dir, 'data'),
      SIDEKICK_RESOURCES_PATH: dir,
      SIDEKICK_CONFIG: zipkinConfigFile(),
      ...extra,
    },
  };
}

const parentOf = (trace: readonly ZipkinSpan[], span: ZipkinSpan): ZipkinSpan | undefined => trace.find((s) => s.id === span.parentId);

describe('samples/01-hello-world traced: pythonapp -> invoke -> nodeapp -> state, one trace in Zipkin', () => {
  let trace: ZipkinSpan[];
  let nodeapp: Proc;

  beforeAll(async () => {
    const since = Date.now();
    const { env, apiUrl } = await appEnv({ SIDEKICK_LOG_FORMAT: 'json' });
    nodeapp = startNode('nodeapp', HELLO_JS, { env });
    running.push(nodeapp);
    await waitHealthy(nodeapp, apiUrl);
    const python = startProcess('pythonapp', 'python3', [join(HELLO, 'pythonapp/app.py')], {
      env: { DAPR_HTTP_PORT: new URL(apiUrl).port, MAX_ORDERS: '1', ORDER_INTERVAL_SECONDS: '0', PYTHONUNBUFFERED: '1' },
    });
    running.push(python);
    await python.waitExit(15_000);
    expect(python.out).toContain('sent order 1: HTTP 200');
    trace = await waitForTrace(
      async () => {
        const traces = await tracesSince('nodeapp', since, 'CallLocal/nodeapp/neworder');
        if (traces.length > 1) throw new Error(`expected one trace, Zipkin has ${traces.length}`);
        return traces[0];
      },
      (t) => t.some((s) => s.name === '/dapr.proto.runtime.v1.dapr/savestate'),
    );
  }, 60_000);

  it('the Dapr API request (the invocation), the nodeapp route and the state save are one chain of spans', () => {
    const api = spanNamed(trace, 'CallLocal/nodeapp/neworder');
    expect(api.parentId).toBeUndefined();
    expect(api.kind).toBe('SERVER');
    expect(api.tags).toMatchObject({ 'dapr.api': 'POST /v1.0/invoke/nodeapp/method/neworder', 'dapr.protocol': 'http', 'rpc.service': 'ServiceInvocation' });
    // A self-invocation through the API has no internal CallLocal client span (daprd serves it locally): the route is the API span's child.
    expect(trace.some((s) => s.name === '/dapr.proto.internals.v1.serviceinvocation/calllocal')).toBe(false);
    const route = spanNamed(trace, 'POST /neworder');
    expect(route.kind).toBe('SERVER');
    expect(parentOf(trace, route)).toBe(api);
    expect(route.tags).toMatchObject({ 'http.route': '/neworder', 'http.response.status_code': '200' });
    const save = spanNamed(trace, '/dapr.proto.runtime.v1.Dapr/SaveState');
    expect(parentOf(trace, save)).toBe(route);
    expect(save.tags).toMatchObject({ 'db.system': 'state', 'db.name': 'statestore', 'dapr.component.type': 'state.sqlite' });
    expect(new Set(trace.map((s) => s.localEndpoint?.serviceName))).toEqual(new Set(['nodeapp']));
  });

  it("nodeapp's log lines inside the request carry the trace's ids", () => {
    const line = nodeapp.out.split('\n').find((l) => l.includes('Got a new order! Order ID: 1'));
    expect(line).toBeDefined();
    const record = JSON.parse(line ?? '{}') as { trace_id?: string; span_id?: string };
    expect(record.trace_id).toBe(spanNamed(trace, 'POST /neworder').traceId);
    expect(record.span_id).toBe(spanNamed(trace, 'POST /neworder').id);
  });
});

describe('samples/02-pubsub traced on Redis: checkout publishes, order-processor receives, one trace in Zipkin', () => {
  it('the publish in checkout and the delivery in order-processor are one trace, the delivery a child of the publish', async () => {
    await requireRedis();
    const since = Date.now();
    const topic = `orders-trace-${randomUUID().slice(0, 8)}`;
    const components = tempDir('sidekick-zipkin-pubsub-');
    for (const file of readdirSync(join(PUBSUB, 'components/redis'))) {
      writeFileSync(
        join(components, file),
        readFileSync(join(PUBSUB, 'components/redis', file), 'utf8').replace('value: 127.0.0.1:6379', `value: ${redisHostPort()}`),
      );
    }
    const processorEnv = await appEnv({ SIDEKICK_RESOURCES_PATH: components, ORDERS_TOPIC: topic });
    const processor = startNode('order-processor', join(PUBSUB_DIST, 'order-processor.main.js'), { env: processorEnv.env });
    running.push(processor);
    await waitHealthy(processor, processorEnv.apiUrl);
    const checkoutEnv = await appEnv({ SIDEKICK_RESOURCES_PATH: components, ORDERS_TOPIC: topic, ORDER_COUNT: '1' });
    const checkout = startNode('checkout', join(PUBSUB_DIST, 'checkout.main.js'), { env: checkoutEnv.env });
    running.push(checkout);
    await checkout.waitExit(20_000);
    await processor.waitFor('the order', () => processor.out.includes('Subscriber received: {"orderId":1}'), 15_000);

    const trace = await waitForTrace(
      async () => {
        const traces = await tracesSince('checkout', since, '/dapr.proto.runtime.v1.Dapr/PublishEvent');
        if (traces.length > 1) throw new Error(`expected one trace, Zipkin has ${traces.length}`);
        return traces[0];
      },
      (t) => t.some((s) => s.localEndpoint?.serviceName === 'order-processor'),
    );
    const publish = spanNamed(trace, '/dapr.proto.runtime.v1.Dapr/PublishEvent', 'checkout');
    expect(publish.parentId).toBeUndefined();
    expect(publish.tags).toMatchObject({ 'messaging.system': 'pubsub', 'messaging.destination.name': topic, 'dapr.component.name': 'orderpubsub' });
    const delivery = spanNamed(trace, `pubsub/${topic}`, 'order-processor');
    expect(delivery.kind).toBe('CONSUMER');
    expect(delivery.parentId).toBe(publish.id);
    expect(delivery.tags).toMatchObject({ 'messaging.destination.name': topic, 'dapr.component.name': 'orderpubsub' });
    expect(new Set(trace.map((s) => s.localEndpoint?.serviceName))).toEqual(new Set(['checkout', 'order-processor']));
    await processor.stop();
  }, 90_000);
});
