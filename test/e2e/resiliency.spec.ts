import { Controller, Get, HttpException, Injectable } from '@nestjs/common';
import { copyFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Binding, Subscribe } from '../../src';
import { inspect } from '../../src/testing';
import { MetricsService } from '../../src/runtime/blocks/metrics/metrics.service';
import { VirtualClock } from '../../src/testing';
import { startApp, tempDir, type TestApp } from '../support/app';
import { Collector } from '../support/collector';
import { FlakyBinding, flakyBindingFactory } from '../support/flaky.binding';
import { FlakyPubSub, flakyPubSubFactory } from '../support/flaky.pubsub';
import { control, type FlakyControl, flakyStateFactory } from '../support/flaky.state';
import { type LoopBinding, loopFactory } from '../support/loop.binding';

const RESILIENCY = `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: testres
scopes: [resapp]
spec:
  policies:
    timeouts:
      fast: 300ms
    retries:
      quick: { policy: constant, duration: 10ms, maxRetries: 3 }
      codes: { policy: constant, duration: 10ms, maxRetries: 2, matching: { httpStatusCodes: "429,502-503" } }
    circuitBreakers:
      cb: { maxRequests: 1, timeout: 700ms, trip: consecutiveFailures >= 3 }
  targets:
    apps:
      resapp: { retry: quick }
    components:
      flaky: { outbound: { retry: quick } }
      breaker: { outbound: { circuitBreaker: cb } }
      slow: { outbound: { timeout: fast } }
      events: { inbound: { retry: quick } }
      flakybinding: { outbound: { retry: quick } }
      flakypubsub: { outbound: { retry: quick } }
      loop: { inbound: { retry: quick } }
`;

let appCalls = 0;
let appFailures = 0;
let handlerCalls = 0;
let handlerFailures = 0;
let alwaysCalls = 0;
let inputFailures = 0;
const inputs = new Collector<number>();
const delivered = new Collector<number>();
const dead = new Collector<number>();

@Controller()
class FlakyController {
  @Get('flaky')
  flaky(): { ok: true } {
    appCalls += 1;
    if (appFailures > 0) {
      appFailures -= 1;
      throw new HttpException('flaky', 500);
    }
    return { ok: true };
  }
}

@Injectable()
class Handlers {
  @Subscribe({ pubsub: 'events', topic: 'in' })
  onIn(): void {
    handlerCalls += 1;
    if (handlerFailures > 0) {
      handlerFailures -= 1;
      throw new Error('not yet');
    }
    delivered.push(1);
  }

  @Subscribe({ pubsub: 'events', topic: 'always', deadLetterTopic: 'always-dead' })
  onAlways(): void {
    alwaysCalls += 1;
    throw new Error('never');
  }

  @Subscribe({ pubsub: 'events', topic: 'always-dead' })
  onDead(): void {
    dead.push(1);
  }

  @Binding('loop')
  onInput(): void {
    if (inputFailures > 0) {
      inputFailures -= 1;
      throw new Error('not yet');
    }
    inputs.push(1);
  }
}

const flaky = (name: string) => ({ metadata: { name }, spec: { type: 'state.flaky', version: 'v1' } });

describe('Resiliency YAML (policies at the interception seam)', () => {
  const controls = new Map<string, FlakyControl>();
  let t: TestApp;
  const get = (store: string): Promise<Response> => fetch(`${t.apiUrl}/v1.0/state/${store}/k`);
  const activations = async (labels: Record<string, string>): Promise<number> => {
    const text = await t.runtime.service(MetricsService).scrape();
    return text
      .split('\n')
      .filter((l) => l.startsWith('dapr_resiliency_activations_total{') && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  };

  beforeAll(async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'resiliency.yaml'), RESILIENCY);
    t = await startApp(
      {
        appId: 'resapp',
        resourcesPath: dir,
        metrics: { port: 0 },
        componentTypes: [flakyStateFactory(controls), flakyBindingFactory, flakyPubSubFactory, loopFactory],
        // With maxRetries 0 the default would never retry: recoveries below are the policy's.
        pubsub: { retry: { maxRetries: 0 } },
        components: [
          { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
          flaky('flaky'),
          flaky('breaker'),
          flaky('slow'),
          flaky('plain'),
          { metadata: { name: 'events' }, spec: { type: 'pubsub.in-memory', version: 'v1' } },
          { metadata: { name: 'flakybinding' }, spec: { type: 'bindings.test-flaky', version: 'v1' } },
          { metadata: { name: 'flakypubsub' }, spec: { type: 'pubsub.test-flaky', version: 'v1' } },
          { metadata: { name: 'loop' }, spec: { type: 'bindings.test-loop', version: 'v1' } },
        ],
      },
      { controllers: [FlakyController], providers: [Handlers] },
    );
  });
  afterAll(() => t.close());

  it('a retry recovers a flaky component call', async () => {
    const c = control(controls, 'flaky');
    c.failures = 2;
    const res = await get('flaky');
    expect(res.status).toBe(204);
    expect(c.calls).toBe(3);
    expect(await activations({ policy: 'retry', target: 'statestore_flaky', flow_direction: 'outbound', name: 'testres' })).toBe(2);
  });

  it('gives up after maxRetries with the last error (a 500, as without a policy)', async () => {
    const c = control(controls, 'flaky');
    c.calls = 0;
    c.failures = 10;
    const res = await get('flaky');
    expect(res.status).toBe(500);
    expect(((await res.json()) as { message: string }).message).toMatch(/failed on purpose/);
    expect(c.calls).toBe(4);
    c.failures = 0;
  });

  it('a policy never applies outside its target', async () => {
    const c = control(controls, 'plain');
    c.failures = 1;
    expect((await get('plain')).status).toBe(500);
    expect(c.calls).toBe(1);
    expect(await activations({ target: 'statestore_plain' })).toBe(0);
  });

  it('a circuit breaker opens, rejects fast while open, half-opens and closes', async () => {
    const c = control(controls, 'breaker');
    c.failures = 100;
    for (let i = 0; i < 3; i++) expect((await get('breaker')).status).toBe(500);
    expect(c.calls).toBe(3);
    const started = Date.now();
    const rejected = await get('breaker');
    expect(rejected.status).toBe(500);
    const body = (await rejected.json()) as { errorCode: string; message: string };
    expect(body).toMatchObject({ errorCode: 'ERR_STATE_GET' });
    expect(body.message).toMatch(/circuit breaker "cb-breaker" is open/);
    expect(c.calls).toBe(3); // rejected without calling the store
    expect(Date.now() - started).toBeLessThan(650); // well under the open period (700 ms): no call was waited for
    await new Promise((r) => setTimeout(r, 800));
    c.failures = 0;
    expect((await get('breaker')).status).toBe(204); // the half-open trial succeeds: closed
    expect((await get('breaker')).status).toBe(204);
    expect(c.calls).toBe(5);
    for (const status of ['open', 'half-open', 'closed']) {
      expect(await activations({ policy: 'circuitbreaker', target: 'statestore_breaker', status })).toBe(1);
    }
  });

  it('a timeout cuts a slow call with Dapr’s error code and status', async () => {
    const c = control(controls, 'slow');
    c.delayMs = 2000;
    const started = Date.now();
    const res = await get('slow');
    const took = Date.now() - started;
    c.delayMs = 0;
    expect(res.status).toBe(500);
    const body = (await res.json()) as { errorCode: string; message: string };
    expect(body.errorCode).toBe('ERR_STATE_GET');
    expect(body.message).toMatch(/did not finish within 300 ms/);
    expect(took).toBeLessThan(1800);
    expect(await activations({ policy: 'timeout', target: 'statestore_slow' })).toBe(1);
  });

  it('retries an invoked app answering 5xx, and returns its last answer once retries are spent', async () => {
    appCalls = 0;
    appFailures = 2;
    const res = await fetch(`${t.apiUrl}/v1.0/invoke/resapp/method/flaky`);
    expect(res.status).toBe(200);
    expect(appCalls).toBe(3);
    appCalls = 0;
    appFailures = 100;
    const failed = await fetch(`${t.apiUrl}/v1.0/invoke/resapp/method/flaky`);
    expect(failed.status).toBe(500);
    expect(appCalls).toBe(4);
    appFailures = 0;
    expect(await activations({ policy: 'retry', target: 'app_resapp' })).toBe(5);
  });

  it('retries an output binding (outbound) and redelivers an input binding event within the policy (inbound)', async () => {
    FlakyBinding.calls = 0;
    FlakyBinding.failures = 2;
    const res = await fetch(`${t.apiUrl}/v1.0/bindings/flakybinding`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operation: 'create', data: { n: 1 } }),
    });
    expect(res.status).toBe(200);
    expect(FlakyBinding.calls).toBe(3);
    inputFailures = 2;
    await fetch(`${t.apiUrl}/v1.0/bindings/loop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operation: 'create', data: {} }),
    });
    await inputs.waitFor(1);
    // The policy retried inside one delivery: the binding itself never had to redeliver.
    expect(inspect(t).component<LoopBinding>('loop')?.redeliveries).toBe(0);
    expect(await activations({ policy: 'retry', target: 'binding_loop', flow_direction: 'inbound' })).toBe(2);
    expect(await activations({ policy: 'retry', target: 'binding_flakybinding', flow_direction: 'outbound' })).toBe(2);
  });

  it('retries a publish (pub/sub outbound)', async () => {
    FlakyPubSub.calls = 0;
    FlakyPubSub.failures = 2;
    const res = await fetch(`${t.apiUrl}/v1.0/publish/flakypubsub/orders`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(204);
    expect(FlakyPubSub.calls).toBe(3);
    expect(await activations({ policy: 'retry', target: 'pubsub_flakypubsub', flow_direction: 'outbound' })).toBe(2);
  });

  it('an inbound pub/sub retry policy replaces pubsub.retry (no retries multiplied)', async () => {
    handlerFailures = 2;
    expect((await fetch(`${t.apiUrl}/v1.0/publish/events/in`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(
      204,
    );
    await delivered.waitFor(1);
    expect(handlerCalls).toBe(3);
    expect(
      (await fetch(`${t.apiUrl}/v1.0/publish/events/always`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status,
    ).toBe(204);
    await dead.waitFor(1);
    expect(alwaysCalls).toBe(4);
    expect(await activations({ policy: 'retry', target: 'pubsub_events', flow_direction: 'inbound' })).toBe(5);
  });
});

describe('a bad Resiliency document', () => {
  it('fails start-up naming the file and the field', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'res.yaml'), RESILIENCY.replace('fast: 300ms', 'fast: soon').replace('scopes: [resapp]', ''));
    await expect(startApp({ appId: 'badres', resourcesPath: dir })).rejects.toThrow(
      /res\.yaml.*spec\.policies\.timeouts\.fast|spec\.policies\.timeouts\.fast.*res\.yaml/s,
    );
  });
});

describe("Dapr's quickstart resiliency.yaml files", () => {
  it('state management: retryForever on statestore applies to order-processor (and not to another app)', async () => {
    const controls = new Map<string, FlakyControl>();
    const start = async (appId: string, clock: VirtualClock): Promise<TestApp> => {
      const dir = tempDir();
      copyFileSync(join(__dirname, '../fixtures/resiliency/state-management.resiliency.yaml'), join(dir, 'resiliency.yaml'));
      return startApp({ appId, resourcesPath: dir, clock, componentTypes: [flakyStateFactory(controls)], components: [flaky('statestore')] });
    };
    const clock = new VirtualClock();
    const t = await start('order-processor', clock);
    try {
      const c = control(controls, 'statestore');
      c.failures = 2;
      const pending = fetch(`${t.apiUrl}/v1.0/state/statestore/order`);
      while (c.calls < 3) {
        await new Promise((r) => setTimeout(r, 20));
        await clock.advance(5000); // constant policy, Dapr's default duration of 5 s
      }
      expect((await pending).status).toBe(204);
      expect(c.calls).toBe(3);
    } finally {
      await t.close();
    }
    controls.clear();
    const other = await start('someone-else', new VirtualClock());
    try {
      const c = control(controls, 'statestore');
      c.failures = 1;
      expect((await fetch(`${other.apiUrl}/v1.0/state/statestore/order`)).status).toBe(500);
      expect(c.calls).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('service invocation: checkout retries order-processor until it answers', async () => {
    let calls = 0;
    const server: Server = createServer((_req, res) => {
      calls += 1;
      res.writeHead(calls < 3 ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ calls }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const dir = tempDir();
    copyFileSync(join(__dirname, '../fixtures/resiliency/service-invocation.resiliency.yaml'), join(dir, 'resiliency.yaml'));
    const clock = new VirtualClock();
    const t = await startApp({ appId: 'checkout', resourcesPath: dir, clock, nameResolution: { static: { 'order-processor': `http://127.0.0.1:${port}` } } });
    try {
      const pending = fetch(`${t.apiUrl}/v1.0/invoke/order-processor/method/orders`);
      while (calls < 3) {
        await new Promise((r) => setTimeout(r, 20));
        await clock.advance(5000);
      }
      const res = await pending;
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ calls: 3 });
    } finally {
      await t.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
