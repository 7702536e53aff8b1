import { Controller, Get, Injectable } from '@nestjs/common';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Binding, type BindingInput, DropEvent, Subscribe } from '../../src';
import { captureLogs } from '../../src/testing';
import { MetricsService } from '../../src/runtime/blocks/metrics/metrics.service';
import { startApp, tempDir, type TestApp } from '../support/app';
import { Collector, eventually } from '../support/collector';
import { loopFactory } from '../support/loop.binding';

const SECRET = 'sk-metrics-very-secret-7f3a9';
const ok = new Collector<number>();
const inputs = new Collector<BindingInput>();
let flakyFailures = 0;

@Injectable()
class Handlers {
  @Subscribe({ pubsub: 'pubsub', topic: 'm-ok' })
  onOk(): void {
    ok.push(1);
  }

  @Subscribe({ pubsub: 'pubsub', topic: 'm-flaky' })
  onFlaky(): void {
    if (flakyFailures < 2) {
      flakyFailures += 1;
      throw new Error('not yet');
    }
    ok.push(2);
  }

  @Subscribe({ pubsub: 'pubsub', topic: 'm-drop' })
  onDrop(): void {
    throw new DropEvent('unwanted');
  }

  @Binding('loop')
  onInput(input: BindingInput): void {
    inputs.push(input);
  }
}

@Controller()
class HelloController {
  @Get('hello/:id')
  hello(): { hi: true } {
    return { hi: true };
  }
}

/** Sums the samples of `name` whose labels include every one of `labels`. */
function sample(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function series(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('metrics (GET /metrics, Dapr names and labels)', () => {
  let t: TestApp;
  let metricsUrl: string;
  const post = (path: string, body: unknown): Promise<Response> =>
    fetch(`${t.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const scrape = async (): Promise<string> => (await fetch(metricsUrl)).text();

  beforeAll(async () => {
    process.env['SK_METRICS_TEST_TOKEN'] = SECRET;
    const dir = tempDir();
    // A component whose metadata comes from a secret: its value must never reach a label.
    writeFileSync(
      join(dir, 'secure.yaml'),
      `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: securestore
spec:
  type: state.in-memory
  version: v1
  metadata:
    - name: token
      secretKeyRef: { name: SK_METRICS_TEST_TOKEN }
auth:
  secretStore: envsecrets
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: envsecrets
spec:
  type: secretstores.local.env
  version: v1
`,
    );
    t = await startApp(
      {
        appId: 'metricsapp',
        resourcesPath: dir,
        metrics: { port: 0 },
        pubsub: { retry: { initialDelayMs: 5, maxDelayMs: 10 } },
        componentTypes: [loopFactory],
        components: [
          { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
          { metadata: { name: 'loop' }, spec: { type: 'bindings.test-loop', version: 'v1' } },
        ],
      },
      { providers: [Handlers], controllers: [HelloController] },
    );
    const address = t.runtime.service(MetricsService).address;
    if (!address) throw new Error('metrics are not served');
    metricsUrl = `http://127.0.0.1:${address.port}/metrics`;
  });
  afterAll(async () => {
    await t.close();
    delete process.env['SK_METRICS_TEST_TOKEN'];
  });

  it('serves Node process metrics and the loaded components', async () => {
    const text = await scrape();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(sample(text, 'dapr_runtime_component_loaded', { app_id: 'metricsapp' })).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'dapr_runtime_component_init_total', { component: 'securestore' })).toBe(1);
  });

  it('counts state calls and HTTP requests; 1,000 distinct keys make no new series', async () => {
    expect((await post('/v1.0/state/statestore', [{ key: 'k', value: 1 }])).status).toBe(204);
    expect((await fetch(`${t.apiUrl}/v1.0/state/statestore/warm-up`)).status).toBe(204);
    const before = await scrape();
    for (let batch = 0; batch < 1000; batch += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(`${t.apiUrl}/v1.0/state/statestore/key-${batch + i}-${Math.random()}`)));
    }
    const after = await scrape();
    const got = (text: string): number => sample(text, 'dapr_component_state_count', { component: 'statestore', operation: 'get', success: 'true' });
    expect(got(after) - got(before)).toBe(1000);
    expect(sample(after, 'dapr_component_state_count', { component: 'statestore', operation: 'set', success: 'true' })).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'dapr_component_state_latencies_count', { component: 'statestore', operation: 'get' })).toBeGreaterThanOrEqual(1000);
    expect(sample(after, 'dapr_http_server_request_count', { app_id: 'metricsapp', method: 'GET' })).toBeGreaterThanOrEqual(1000);
    expect(sample(after, 'dapr_http_server_response_count', { method: 'GET', status: '204' })).toBeGreaterThanOrEqual(1000);
    expect(sample(after, 'dapr_http_server_latency_count', { method: 'POST', status: '204' })).toBeGreaterThanOrEqual(1);
    // Bounded: no key appears, and the number of series does not grow with the keys.
    expect(after).not.toContain('key-');
    const count = (text: string): number => series(text, 'dapr_').length;
    expect(count(after)).toBe(count(before));
  });

  it('counts publishes, and deliveries by process_status success / retry / drop', async () => {
    for (const topic of ['m-ok', 'm-flaky', 'm-drop']) expect((await post(`/v1.0/publish/pubsub/${topic}`, { n: 1 })).status).toBe(204);
    await ok.waitFor(2);
    await eventually(async () => sample(await scrape(), 'dapr_component_pubsub_ingress_count', { topic: 'm-drop', process_status: 'drop' }) === 1);
    const text = await scrape();
    expect(sample(text, 'dapr_component_pubsub_egress_count', { component: 'pubsub', topic: 'm-ok', success: 'true' })).toBe(1);
    expect(sample(text, 'dapr_component_pubsub_egress_latencies_count', { topic: 'm-flaky' })).toBe(1);
    expect(sample(text, 'dapr_component_pubsub_ingress_count', { topic: 'm-ok', process_status: 'success' })).toBe(1);
    expect(sample(text, 'dapr_component_pubsub_ingress_count', { topic: 'm-flaky', process_status: 'retry' })).toBe(2);
    expect(sample(text, 'dapr_component_pubsub_ingress_count', { topic: 'm-flaky', process_status: 'success' })).toBe(1);
    expect(sample(text, 'dapr_component_pubsub_ingress_latencies_count', { topic: 'm-flaky' })).toBe(3);
  });

  it('counts service invocation, sent and received', async () => {
    for (let i = 0; i < 3; i++) expect((await fetch(`${t.apiUrl}/v1.0/invoke/metricsapp/method/hello/${i}`)).status).toBe(200);
    const text = await scrape();
    expect(sample(text, 'dapr_runtime_service_invocation_req_sent_total', { destination_app_id: 'metricsapp' })).toBe(3);
    expect(sample(text, 'dapr_runtime_service_invocation_res_recv_total', { destination_app_id: 'metricsapp', status: '200' })).toBe(3);
    expect(sample(text, 'dapr_runtime_service_invocation_res_recv_latency_ms_count', { destination_app_id: 'metricsapp' })).toBe(3);
    expect(sample(text, 'dapr_runtime_service_invocation_req_recv_total', { source_app_id: 'metricsapp' })).toBe(3);
    expect(sample(text, 'dapr_runtime_service_invocation_res_sent_total', { status: '200' })).toBe(3);
  });

  it('counts output and input bindings', async () => {
    expect((await post('/v1.0/bindings/loop', { operation: 'create', data: { n: 1 } })).status).toBeLessThan(300);
    await inputs.waitFor(1);
    await eventually(async () => sample(await scrape(), 'dapr_component_input_binding_count', { component: 'loop', success: 'true' }) === 1);
    const text = await scrape();
    expect(sample(text, 'dapr_component_output_binding_count', { component: 'loop', operation: 'create', success: 'true' })).toBe(1);
    expect(sample(text, 'dapr_component_output_binding_latencies_bucket', { component: 'loop', le: '+Inf' })).toBe(1);
  });

  it('never puts a secret value in a label', async () => {
    expect(await scrape()).not.toContain(SECRET);
  });

  it('uses daprd latency buckets in milliseconds', async () => {
    const text = await scrape();
    for (const le of ['1', '5', '100', '100000']) expect(text).toContain(`dapr_http_server_latency_bucket{le="${le}"`);
  });
});

describe('metrics path labels (spec.metric.http)', () => {
  it('pathMatching labels matching paths with their pattern and the others "_"; excludeVerbs drops the method', async () => {
    const t = await startApp(
      {
        appId: 'pathapp',
        metrics: { port: 0 },
        config: { metric: { http: { pathMatching: ['/v1.0/state/statestore/{key}'], excludeVerbs: true } } },
      },
      { controllers: [HelloController] },
    );
    try {
      for (let i = 0; i < 20; i++) await fetch(`${t.apiUrl}/v1.0/state/statestore/k${i}`);
      await fetch(`${t.apiUrl}/v1.0/invoke/pathapp/method/hello/1`);
      const text = await t.runtime.service(MetricsService).scrape();
      expect(sample(text, 'dapr_http_server_request_count', { path: '/v1.0/state/statestore/{key}' })).toBe(20);
      expect(sample(text, 'dapr_http_server_request_count', { path: '_' })).toBe(1);
      expect(series(text, 'dapr_http_server_request_count').some((l) => l.includes('method='))).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('increasedCardinality: true labels the route template with the component name, never the key', async () => {
    const t = await startApp({ appId: 'cardapp', metrics: { port: 0 }, config: { metric: { http: { increasedCardinality: true } } } });
    try {
      for (let i = 0; i < 20; i++) await fetch(`${t.apiUrl}/v1.0/state/statestore/k${i}`);
      const text = await t.runtime.service(MetricsService).scrape();
      expect(sample(text, 'dapr_http_server_request_count', { path: '/v1.0/state/statestore/*', method: 'GET' })).toBe(20);
      expect(text).not.toMatch(/path="[^"]*k1/);
    } finally {
      await t.close();
    }
  });

  it('never puts the API token in a label, even with increasedCardinality', async () => {
    const token = 'tok-metrics-5b1f0c';
    const t = await startApp({
      appId: 'tokenapp',
      metrics: { port: 0 },
      httpApi: { apiToken: token },
      config: { metric: { http: { increasedCardinality: true } } },
    });
    try {
      const headers = { 'dapr-api-token': token };
      expect((await fetch(`${t.apiUrl}/v1.0/state/statestore/${token}`, { headers })).status).toBe(204);
      expect((await fetch(`${t.apiUrl}/v1.0/state/statestore/k?metadata.token=${token}`, { headers })).status).toBe(204);
      expect((await fetch(`${t.apiUrl}/v1.0/state/statestore/k`)).status).toBe(401);
      const text = await t.runtime.service(MetricsService).scrape();
      expect(sample(text, 'dapr_http_server_request_count', { app_id: 'tokenapp' })).toBe(2);
      expect(text).not.toContain(token);
    } finally {
      await t.close();
    }
  });

  it('metric.enabled: false installs nothing and serves nothing', async () => {
    const t = await startApp({ appId: 'offapp', metrics: { port: 0 }, config: { metric: { enabled: false } } });
    try {
      expect(t.runtime.service(MetricsService).enabled).toBe(false);
      expect(t.runtime.service(MetricsService).address).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('a busy metrics port is a warning: the app starts and runs without its endpoint', async () => {
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const port = (squatter.address() as AddressInfo).port;
    const logs = captureLogs();
    const t = await startApp({ appId: 'busyapp', metrics: { port }, logger: logs });
    try {
      expect(logs.find({ level: 'warn', text: 'metrics are not served' })).toHaveLength(1);
      expect(t.runtime.service(MetricsService).address).toBeUndefined();
      expect((await fetch(`${t.apiUrl}/v1.0/state/statestore/x`)).status).toBe(204);
      expect(await t.runtime.service(MetricsService).scrape()).toContain('dapr_component_state_count');
    } finally {
      await t.close();
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });
});
