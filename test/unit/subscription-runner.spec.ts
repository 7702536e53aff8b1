import { DropEvent } from '../../src/errors/pubsub.errors';
import { SidekickError } from '../../src/errors/sidekick.error';
import { RetryPolicy } from '../../src/runtime/resiliency/retry.policy';
import { outcomeOf } from '../../src/runtime/blocks/pubsub/outcome';
import type { PubSubService } from '../../src/runtime/blocks/pubsub/pubsub.service';
import type { BulkResult, RouteTarget, SubscriptionSpec, TopicEvent } from '../../src/runtime/blocks/pubsub/pubsub.types';
import { type Cel, loadCel } from '../../src/runtime/blocks/pubsub/routing';
import { SubscriptionRunner } from '../../src/runtime/blocks/pubsub/subscription.runner';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import type { MessageHandler, ReceivedMessage } from '../../src/spi/pubsub';
import { noopLogger } from '../support/logger';

/**
 * The runner against a fake component: `deliver(...)` is the component calling the runner's handler
 * (resolve = acknowledge, reject = give the message back), dead letters land in `published`.
 */
async function runner(handler: (e: TopicEvent) => unknown, spec: Partial<SubscriptionSpec> = {}, routes?: RouteTarget[], cel?: Cel) {
  const clock = new VirtualClock(Date.UTC(2026, 0, 1));
  const published: { topic: string; data: Buffer }[] = [];
  let onMessage: MessageHandler | undefined;
  let closed = 0;
  const broker = {
    subscribe: async (_request: unknown, handler: MessageHandler) => {
      onMessage = handler;
      return { close: async () => void (closed += 1) };
    },
  };
  const pubsub = {
    component: async () => broker,
    publishBytes: async (_pubsub: string, topic: string, data: Buffer) => void published.push({ topic, data }),
  } as unknown as PubSubService;
  // Every backoff is the 100 ms cap: initialDelayMs far above it (with the jitter pinned in beforeEach).
  const policy = new RetryPolicy(clock, { maxRetries: 2, initialDelayMs: 10_000, maxDelayMs: 100 });
  const target: RouteTarget = { name: 'Test.handle', rules: [], deliver: (e) => outcomeOf(() => handler(e)), deliverBulk: async () => ({}) };
  const full: SubscriptionSpec = { pubsub: 'pubsub', topic: 'orders', metadata: {}, routes: routes ?? [target], type: 'PROGRAMMATIC', origin: 'test', ...spec };
  const run = new SubscriptionRunner(full, pubsub, policy, clock, noopLogger, 'app', cel);
  await run.start();
  const deliver = (message: ReceivedMessage): Promise<void> => {
    if (!onMessage) throw new Error('not subscribed');
    return onMessage(message);
  };
  return { run, clock, published, deliver, closed: () => closed };
}

const message = (data: unknown, fields: Record<string, unknown> = {}): ReceivedMessage => ({
  topic: 'orders',
  data: Buffer.from(
    JSON.stringify({ specversion: '1.0', id: 'e1', source: 'checkout', type: 'com.dapr.event.sent', datacontenttype: 'application/json', data, ...fields }),
  ),
  metadata: { partition: '0' },
});

/** Lets pending promise callbacks run (a failed attempt reaches its backoff timer). */
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Tracks whether a promise has settled, and how. */
function track(promise: Promise<void>): { readonly state: 'pending' | 'resolved' | 'rejected'; readonly error?: unknown } {
  const t: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (t.state = 'resolved'),
    (err: unknown) => {
      t.state = 'rejected';
      t.error = err;
    },
  );
  return t;
}

beforeEach(() => jest.spyOn(Math, 'random').mockReturnValue(0.5));
afterEach(() => jest.restoreAllMocks());

describe('SubscriptionRunner outcomes', () => {
  it('acknowledges a synchronous handler’s return with one shared resolved promise (no allocation, no timer)', async () => {
    const seen: unknown[] = [];
    const { run, deliver, clock } = await runner((e) => void seen.push(e.data));
    const first = deliver(message({ n: 1 }));
    const second = deliver(message({ n: 2 }));
    expect(first).toBe(second);
    await expect(first).resolves.toBeUndefined();
    expect(seen).toEqual([{ n: 1 }, { n: 2 }]);
    expect(run.stats).toMatchObject({ delivered: 2, retried: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('hands the handler the typed data, the envelope and the broker metadata', async () => {
    const seen: TopicEvent[] = [];
    const { deliver } = await runner((e) => void seen.push(e));
    await deliver(message({ n: 1 }, { traceparent: '00-a-b-01' }));
    expect(seen[0]).toMatchObject({
      id: 'e1',
      source: 'checkout',
      topic: 'orders',
      pubsubname: 'pubsub',
      data: { n: 1 },
      traceparent: '00-a-b-01',
      metadata: { partition: '0' },
    });
  });

  it('acknowledges an asynchronous handler once it resolves', async () => {
    let release!: () => void;
    const { run, deliver } = await runner(() => new Promise<void>((r) => (release = r)));
    const acked = track(deliver(message(1)));
    await Promise.resolve();
    expect(acked.state).toBe('pending');
    release();
    await new Promise((r) => setImmediate(r));
    expect(acked.state).toBe('resolved');
    expect(run.stats.delivered).toBe(1);
  });

  it('retries a throwing handler after the backoff, on the clock, and acknowledges once it succeeds', async () => {
    let calls = 0;
    const { run, deliver, clock } = await runner(() => {
      if (++calls < 3) throw new Error('not yet');
    });
    const acked = track(deliver(message(1)));
    await flush();
    await clock.advance(99);
    expect(calls).toBe(1);
    await clock.advance(1);
    expect(calls).toBe(2);
    await clock.advance(100);
    expect(calls).toBe(3);
    expect(acked.state).toBe('resolved');
    expect(run.stats).toMatchObject({ delivered: 1, retried: 2 });
  });

  it('gives the message back to the broker (rejects) when retries run out and there is no dead-letter topic', async () => {
    let calls = 0;
    const { run, deliver, clock } = await runner(async () => {
      calls += 1;
      throw new Error('still broken');
    });
    const acked = track(deliver(message(1)));
    await flush();
    await clock.advance(1000);
    expect(calls).toBe(3); // the first attempt and maxRetries (2) retries
    expect(acked).toMatchObject({ state: 'rejected', error: { message: 'still broken' } });
    expect(run.stats).toMatchObject({ delivered: 0, retried: 2, dropped: 0, deadLettered: 0 });
  });

  it('dead-letters the original bytes when retries run out and there is a dead-letter topic', async () => {
    const { run, deliver, clock, published } = await runner(
      () => {
        throw new Error('broken');
      },
      { deadLetterTopic: 'orders-dlq' },
    );
    const original = message({ n: 7 });
    const acked = track(deliver(original));
    await flush();
    await clock.advance(1000);
    expect(acked.state).toBe('resolved');
    expect(published).toEqual([{ topic: 'orders-dlq', data: original.data }]);
    expect(run.stats).toMatchObject({ deadLettered: 1, retried: 2 });
  });

  it('does not retry a non-retryable error', async () => {
    let calls = 0;
    const { run, deliver } = await runner(() => {
      calls += 1;
      throw new SidekickError('ERR_BAD_ORDER', 'invalid order');
    });
    await expect(deliver(message(1))).rejects.toThrow('invalid order');
    expect(calls).toBe(1);
    expect(run.stats.retried).toBe(0);
  });

  it('drops on DropEvent without retrying, or dead-letters it when there is a dead-letter topic', async () => {
    let calls = 0;
    const drop = (): never => {
      calls += 1;
      throw new DropEvent('poison');
    };
    const plain = await runner(drop);
    await expect(plain.deliver(message(1))).resolves.toBeUndefined();
    expect(plain.run.stats).toMatchObject({ dropped: 1, delivered: 0, retried: 0 });
    const withDlq = await runner(async () => drop(), { deadLetterTopic: 'dlq' });
    await expect(withDlq.deliver(message(1))).resolves.toBeUndefined();
    expect(withDlq.run.stats).toMatchObject({ deadLettered: 1, dropped: 0 });
    expect(withDlq.published.map((p) => p.topic)).toEqual(['dlq']);
    expect(calls).toBe(2);
  });

  it('never acknowledges a malformed message without a dead-letter topic, and never calls the handler with it', async () => {
    const handler = jest.fn();
    const { run, deliver } = await runner(handler);
    await expect(deliver({ topic: 'orders', data: Buffer.from('not json'), metadata: {} })).rejects.toThrow(/malformed event: not JSON/);
    expect(handler).not.toHaveBeenCalled();
    expect(run.stats).toMatchObject({ malformed: 1, dropped: 0 });
  });

  it('delivers JSON that is not a CloudEvent (raw JSON published without an envelope) as the event data', async () => {
    const handler = jest.fn();
    const { run, deliver } = await runner(handler);
    await expect(deliver({ topic: 'orders', data: Buffer.from('{"no":"specversion"}'), metadata: {} })).resolves.toBeUndefined();
    expect(handler).toHaveBeenCalledWith(expect.objectContaining({ data: { no: 'specversion' }, topic: 'orders' }));
    expect(run.stats).toMatchObject({ malformed: 0, delivered: 1 });
  });

  it('dead-letters an expired event without its expiration, and never delivers it', async () => {
    const handler = jest.fn();
    const { deliver, published } = await runner(handler, { deadLetterTopic: 'dlq' });
    await deliver(message(1, { expiration: '2025-12-31T23:59:59Z' }));
    expect(handler).not.toHaveBeenCalled();
    const dead = JSON.parse(String(published[0]?.data)) as Record<string, unknown>;
    expect(dead).toMatchObject({ id: 'e1', data: 1 });
    expect(dead).not.toHaveProperty('expiration');
  });

  it('acknowledges and counts an event no route matches (no default route)', async () => {
    const delivered: unknown[] = [];
    const big: RouteTarget = {
      name: 'big',
      rules: ['event.data > 10'],
      deliver: (e) => outcomeOf(() => delivered.push(e.data)),
      deliverBulk: async () => ({}),
    };
    const { run, deliver } = await runner(() => undefined, {}, [big], await loadCel([big]));
    await expect(deliver(message(1))).resolves.toBeUndefined();
    await expect(deliver(message(11))).resolves.toBeUndefined();
    expect(delivered).toEqual([11]);
    expect(run.stats).toMatchObject({ unrouted: 1, delivered: 1 });
  });

  it('stops retrying once stopping: the message waiting for its retry goes back to the broker, not to the dead-letter topic', async () => {
    const { run, deliver, clock, published, closed } = await runner(
      () => {
        throw new Error('broken');
      },
      { deadLetterTopic: 'dlq' },
    );
    const acked = track(deliver(message(1)));
    await flush();
    await run.stop();
    expect(run.stopped).toBe(true);
    expect(closed()).toBe(1);
    await clock.advance(100);
    expect(acked).toMatchObject({ state: 'rejected', error: { message: 'broken' } });
    expect(published).toEqual([]);
  });
});

describe('SubscriptionRunner with bulk subscribe', () => {
  it('batches events and settles each by its status', async () => {
    const batches: string[][] = [];
    const target: RouteTarget = {
      name: 'Bulk.handle',
      rules: [],
      deliver: () => ({ status: 'success' }),
      deliverBulk: async (events): Promise<BulkResult> => {
        batches.push(events.map((e) => e.id));
        return { b: 'DROP' };
      },
    };
    const { run, deliver } = await runner(() => undefined, { bulk: { enabled: true, maxMessagesCount: 2 } }, [target]);
    const a = deliver(message(1, { id: 'a' }));
    const b = deliver(message(2, { id: 'b' }));
    await expect(Promise.all([a, b])).resolves.toEqual([undefined, undefined]);
    expect(batches).toEqual([['a', 'b']]);
    expect(run.stats).toMatchObject({ delivered: 1, dropped: 1 });
  });
});
