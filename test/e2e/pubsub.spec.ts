import { Body, Controller, HttpCode, Injectable, Post } from '@nestjs/common';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BulkResult, DropEvent, SidekickClient, Subscribe, type TopicEvent } from '../../src';
import { inspect, startApp, tempDir, type TestApp } from '../support/app';
import { Collector, eventually } from '../support/collector';

interface Order {
  readonly orderId: number;
  readonly total?: number;
}

const received = new Collector<TopicEvent>();
const bigOrders = new Collector<TopicEvent<Order>>();
const dlq = new Collector<TopicEvent>();
const bulkBatches = new Collector<readonly TopicEvent[]>();
const httpDelivered = new Collector<{ path: string; body: Record<string, unknown> }>();
const flaky = { failuresLeft: 0, calls: 0 };

@Injectable()
class Handlers {
  @Subscribe({ pubsub: 'pubsub', topic: 'orders' })
  onOrder(event: TopicEvent<Order>): void {
    received.push(event);
  }

  @Subscribe({ pubsub: 'pubsub', topic: 'routed', rules: [{ match: 'event.data.total > 100' }] })
  onBig(event: TopicEvent<Order>): void {
    bigOrders.push(event);
  }

  @Subscribe({ pubsub: 'pubsub', topic: 'routed' })
  onSmall(event: TopicEvent): void {
    received.push(event);
  }

  @Subscribe({ pubsub: 'pubsub', topic: 'flaky', deadLetterTopic: 'flaky-dlq' })
  onFlaky(event: TopicEvent<{ mode: string }>): void {
    flaky.calls += 1;
    if (event.data.mode === 'drop') throw new DropEvent('not for us');
    if (event.data.mode === 'always' || flaky.failuresLeft-- > 0) throw new Error('transient');
    received.push(event);
  }

  @Subscribe({ pubsub: 'pubsub', topic: 'flaky-async', deadLetterTopic: 'flaky-dlq' })
  async onFlakyAsync(event: TopicEvent<{ mode: string }>): Promise<void> {
    flaky.calls += 1;
    await new Promise((resolve) => setImmediate(resolve));
    if (event.data.mode === 'drop') throw new DropEvent('not for us either');
    if (flaky.failuresLeft-- > 0) throw new Error('transient');
    received.push(event);
  }

  @Subscribe({ pubsub: 'pubsub', topic: 'flaky-dlq' })
  onDeadLetter(event: TopicEvent): void {
    dlq.push(event);
  }

  @Subscribe({ pubsub: 'pubsub', topic: 'batch', bulk: { enabled: true, maxMessagesCount: 5, maxAwaitDurationMs: 100 } })
  onBatch(events: readonly TopicEvent<{ n: number }>[]): BulkResult {
    bulkBatches.push(events);
    return Object.fromEntries(events.map((e) => [e.id, 'SUCCESS' as const]));
  }

  @Subscribe({ pubsub: 'pubsub', topic: 'raw', metadata: { rawPayload: 'true' } })
  onRaw(event: TopicEvent): void {
    received.push(event);
  }
}

@Controller()
class DeclarativeController {
  @Post('declared/ok')
  @HttpCode(200)
  ok(@Body() body: Record<string, unknown>): Record<string, string> {
    httpDelivered.push({ path: 'ok', body });
    return { status: 'SUCCESS' };
  }

  @Post('declared/vip')
  @HttpCode(200)
  vip(@Body() body: Record<string, unknown>): Record<string, string> {
    httpDelivered.push({ path: 'vip', body });
    return { status: 'DROP' };
  }
}

describe('pub/sub on the in-memory component', () => {
  let t: TestApp;
  let client: SidekickClient;
  const publish = (topic: string, body: string, contentType: string, query = ''): Promise<Response> =>
    fetch(`${t.apiUrl}/v1.0/publish/pubsub/${topic}${query}`, { method: 'POST', body, headers: { 'content-type': contentType } });
  const latest = (): TopicEvent => received.items[received.items.length - 1] as TopicEvent;

  beforeAll(async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'subscription.yaml'),
      `apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: declared
spec:
  pubsubname: pubsub
  topic: declared
  routes:
    rules:
      - match: event.data.vip == true
        path: /declared/vip
    default: /declared/ok
`,
    );
    t = await startApp(
      { appId: 'shop', resourcesPath: dir, pubsub: { retry: { maxRetries: 2, initialDelayMs: 5, maxDelayMs: 20 } } },
      { providers: [Handlers], controllers: [DeclarativeController] },
    );
    client = t.app.get(SidekickClient);
  });
  afterAll(() => t.close());

  it('delivers a published object with typed data and the CloudEvent envelope', async () => {
    const before = received.items.length;
    await client.publish('pubsub', 'orders', { orderId: 1 });
    await received.waitFor(before + 1);
    const event = latest();
    expect(event.data).toEqual({ orderId: 1 });
    expect(event).toMatchObject({ source: 'shop', type: 'com.dapr.event.sent', topic: 'orders', pubsubname: 'pubsub', datacontenttype: 'application/json' });
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.envelope.specversion).toBe('1.0');
    expect(Date.parse(event.time ?? '')).not.toBeNaN();
  });

  it('publishes over HTTP with 204 and maps content types as daprd does', async () => {
    let before = received.items.length;
    expect((await publish('orders', '{"orderId":2}', 'application/json')).status).toBe(204);
    await received.waitFor(++before);
    expect(latest().data).toEqual({ orderId: 2 });

    expect((await publish('orders', 'plain words', 'text/plain')).status).toBe(204);
    await received.waitFor(++before);
    expect(latest().data).toBe('plain words');

    expect((await publish('orders', '\u0000\u00ffbinary', 'application/octet-stream')).status).toBe(204);
    await received.waitFor(++before);
    // fetch sends the string as UTF-8: those bytes come back as they were, in data_base64.
    const bytes = Buffer.from('\u0000\u00ffbinary', 'utf8');
    expect(latest().envelope.data_base64).toBe(bytes.toString('base64'));
    expect(latest().data).toEqual(bytes);

    const own = {
      specversion: '1.0',
      id: 'my-id-1',
      source: 'elsewhere',
      type: 'my.type',
      datacontenttype: 'application/json',
      data: { orderId: 3 },
      topic: 'wrong',
    };
    expect((await publish('orders', JSON.stringify(own), 'application/cloudevents+json')).status).toBe(204);
    await received.waitFor(++before);
    expect(latest()).toMatchObject({ id: 'my-id-1', source: 'elsewhere', type: 'my.type', topic: 'orders', data: { orderId: 3 } });
  });

  it('carries the traceparent header of a publish into the CloudEvent', async () => {
    const before = received.items.length;
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await fetch(`${t.apiUrl}/v1.0/publish/pubsub/orders`, {
      method: 'POST',
      body: '{"orderId":9}',
      headers: { 'content-type': 'application/json', traceparent },
    });
    expect(res.status).toBe(204);
    await received.waitFor(before + 1);
    expect(latest().traceparent).toBe(traceparent);
    expect(latest().envelope.traceid).toBe(traceparent);
  });

  it('answers an unknown pub/sub with 404 ERR_PUBSUB_NOT_FOUND and a bad rawPayload with 400', async () => {
    const res = await fetch(`${t.apiUrl}/v1.0/publish/nope/orders`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(404);
    expect((await res.json()).errorCode).toBe('ERR_PUBSUB_NOT_FOUND');
    const bad = await publish('orders', '{}', 'application/json', '?metadata.rawPayload=maybe');
    expect(bad.status).toBe(400);
    expect((await bad.json()).errorCode).toBe('ERR_PUBSUB_REQUEST_METADATA');
  });

  it('routes by CEL rules, falling back to the default route', async () => {
    const before = received.items.length;
    await client.publish('pubsub', 'routed', { orderId: 10, total: 500 });
    await client.publish('pubsub', 'routed', { orderId: 11, total: 5 });
    await bigOrders.waitFor(1);
    await received.waitFor(before + 1);
    expect(bigOrders.items.map((e) => e.data.orderId)).toEqual([10]);
    expect(latest().data).toEqual({ orderId: 11, total: 5 });
  });

  it('retries a failing handler with backoff and then delivers', async () => {
    const before = received.items.length;
    flaky.failuresLeft = 2;
    flaky.calls = 0;
    await client.publish('pubsub', 'flaky', { mode: 'transient' });
    await received.waitFor(before + 1);
    expect(flaky.calls).toBe(3);
  });

  it('sends an event to the dead-letter topic after the retries, and a dropped one at once', async () => {
    flaky.calls = 0;
    await client.publish('pubsub', 'flaky', { mode: 'always' });
    await dlq.waitFor(1);
    expect(flaky.calls).toBe(3); // first attempt + maxRetries 2
    expect(dlq.items[0]?.data).toEqual({ mode: 'always' });
    flaky.calls = 0;
    await client.publish('pubsub', 'flaky', { mode: 'drop' });
    await dlq.waitFor(2);
    expect(flaky.calls).toBe(1);
  });

  it('treats a rejecting async handler like a throwing one: retried, then delivered; an async DropEvent is dead-lettered', async () => {
    const before = received.items.length;
    const dlqBefore = dlq.items.length;
    flaky.failuresLeft = 1;
    flaky.calls = 0;
    await client.publish('pubsub', 'flaky-async', { mode: 'transient' });
    await received.waitFor(before + 1);
    expect(flaky.calls).toBe(2);
    expect(latest().topic).toBe('flaky-async');
    flaky.calls = 0;
    await client.publish('pubsub', 'flaky-async', { mode: 'drop' });
    await dlq.waitFor(dlqBefore + 1);
    expect(flaky.calls).toBe(1);
    expect(dlq.items[dlqBefore]?.data).toEqual({ mode: 'drop' });
  });

  it('dead-letters a malformed event with a clear reason and keeps consuming', async () => {
    const before = received.items.length;
    const dlqBefore = dlq.items.length;
    // A raw payload that is not a CloudEvent, on a topic whose subscription expects CloudEvents.
    await client.publish('pubsub', 'flaky', 'this is not json', { metadata: { rawPayload: 'true' } });
    await client.publish('pubsub', 'flaky', { mode: 'fine' });
    await received.waitFor(before + 1);
    await eventually(
      () =>
        dlq.items.length > dlqBefore ||
        inspect(t)
          .subscriptions()
          .some((r) => r.topic === 'flaky' && r.stats.malformed > 0),
      3000,
      'malformed count',
    );
    const runner = inspect(t)
      .subscriptions()
      .find((r) => r.topic === 'flaky');
    expect(runner?.stats.malformed).toBe(1);
  });

  it('delivers raw payloads to a rawPayload subscription as data_base64', async () => {
    const before = received.items.length;
    await client.publish('pubsub', 'raw', Buffer.from('raw-bytes'), { metadata: { rawPayload: 'true' } });
    await received.waitFor(before + 1);
    expect(latest().envelope.datacontenttype).toBe('application/octet-stream');
    expect((latest().data as Buffer).toString()).toBe('raw-bytes');
  });

  it('hands bulk subscribers batches of up to maxMessagesCount', async () => {
    const res = await fetch(`${t.apiUrl}/v1.0-alpha1/publish/bulk/pubsub/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: 7 }, (_, i) => ({ entryId: `e${i}`, event: { n: i }, contentType: 'application/json' }))),
    });
    expect(res.status).toBe(204);
    await eventually(() => bulkBatches.items.flat().length === 7, 3000, '7 bulk events');
    expect(Math.max(...bulkBatches.items.map((b) => b.length))).toBeLessThanOrEqual(5);
    expect(
      bulkBatches.items
        .flat()
        .map((e) => (e.data as { n: number }).n)
        .sort(),
    ).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('rejects a bulk publish with a duplicate entryId with 400 ERR_PUBSUB_EVENTS_SER', async () => {
    const res = await fetch(`${t.apiUrl}/v1.0-alpha1/publish/bulk/pubsub/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { entryId: 'x', event: 1, contentType: 'application/json' },
        { entryId: 'x', event: 2, contentType: 'application/json' },
      ]),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).errorCode).toBe('ERR_PUBSUB_EVENTS_SER');
  });

  it('delivers declarative (YAML) subscriptions to the app routes, with rules', async () => {
    await client.publish('pubsub', 'declared', { vip: true });
    await client.publish('pubsub', 'declared', { vip: false });
    await httpDelivered.waitFor(2);
    expect(httpDelivered.items.map((d) => d.path).sort()).toEqual(['ok', 'vip']);
    expect(httpDelivered.items[0]?.body).toMatchObject({ specversion: '1.0', topic: 'declared', pubsubname: 'pubsub' });
  });

  it('lists subscriptions in /v1.0/metadata', async () => {
    const meta = await (await fetch(`${t.apiUrl}/v1.0/metadata`)).json();
    const topics = (meta.subscriptions as { topic: string; type: string }[]).map((s) => `${s.topic}:${s.type}`).sort();
    expect(topics).toEqual(expect.arrayContaining(['orders:PROGRAMMATIC', 'declared:DECLARATIVE', 'flaky:PROGRAMMATIC']));
    const routed = (meta.subscriptions as { topic: string; rules: { match: string; path: string }[] }[]).find((s) => s.topic === 'routed');
    // Methods have no app route (daprd lists routes' paths): their path is empty; declarative routes list theirs.
    expect(routed?.rules).toEqual([
      { match: 'event.data.total > 100', path: '' },
      { match: '', path: '' },
    ]);
    const declared = (meta.subscriptions as { topic: string; rules: { match: string; path: string }[] }[]).find((s) => s.topic === 'declared');
    expect(declared?.rules.map((r) => r.path)).toEqual(expect.arrayContaining(['/declared/vip', '/declared/ok']));
    expect(meta.components).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'pubsub', type: 'pubsub.in-memory' })]));
  });
});
