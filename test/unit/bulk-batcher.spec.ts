import type { BulkSubscribeOptions } from '../../src/decorators/subscribe.decorator';
import { BulkBatcher } from '../../src/runtime/blocks/pubsub/bulk.batcher';
import { RetryPolicy } from '../../src/runtime/resiliency/retry.policy';
import type { BulkResult, Outcome, RouteTarget, TopicEvent } from '../../src/runtime/blocks/pubsub/pubsub.types';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { noopLogger } from '../support/logger';

const event = (id: string): TopicEvent => ({
  id,
  source: 's',
  type: 't',
  topic: 'orders',
  pubsubname: 'pubsub',
  data: id,
  envelope: { specversion: '1.0', id, source: 's', type: 't' },
  metadata: {},
});

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * A batcher whose handler answers with `reply(batch, call)`; every settle is recorded as
 * `<original>:<status>` (the original is the event id's bytes).
 */
function batcher(options: Omit<BulkSubscribeOptions, 'enabled'>, reply: (ids: string[], call: number) => BulkResult | Error = () => undefined, maxRetries = 2) {
  const clock = new VirtualClock(0);
  const batches: string[][] = [];
  const settled: string[] = [];
  const target: RouteTarget = {
    name: 'Bulk.handle',
    rules: [],
    deliver: () => ({ status: 'success' }),
    deliverBulk: async (events) => {
      const ids = events.map((e) => e.id);
      batches.push(ids);
      const result = reply(ids, batches.length);
      if (result instanceof Error) throw result;
      return result;
    },
  };
  const settle = async (original: Buffer, outcome: Outcome): Promise<void> => {
    settled.push(`${original.toString()}:${outcome.status}`);
    if (original.toString() === 'bad-ack') throw new Error('ack failed');
  };
  // Backoffs pinned to 100 ms: initialDelayMs far above the 100 ms cap.
  const policy = new RetryPolicy(clock, { maxRetries, initialDelayMs: 100_000, maxDelayMs: 100 });
  const b = new BulkBatcher(target, { enabled: true, ...options }, clock, policy, settle, noopLogger);
  const add = (id: string): Promise<void> => b.add(event(id), Buffer.from(id));
  return { b, add, clock, batches, settled };
}

describe('BulkBatcher', () => {
  beforeEach(() => jest.spyOn(Math, 'random').mockReturnValue(0.5));
  afterEach(() => jest.restoreAllMocks());

  it('hands over a batch as soon as maxMessagesCount events are in, without waiting for the timer', async () => {
    const { add, clock, batches, settled } = batcher({ maxMessagesCount: 3, maxAwaitDurationMs: 1000 });
    const acks = ['a', 'b', 'c', 'd'].map(add);
    expect(batches).toEqual([['a', 'b', 'c']]);
    await Promise.all(acks.slice(0, 3));
    expect(settled).toEqual(['a:success', 'b:success', 'c:success']);
    expect(clock.pendingTimers).toBe(1); // d's batch waits for its timer
    await clock.advance(1000);
    await acks[3];
    expect(batches).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('hands over a partial batch after maxAwaitDurationMs from its first event', async () => {
    const { add, clock, batches } = batcher({ maxMessagesCount: 10, maxAwaitDurationMs: 500 });
    void add('a');
    await clock.advance(300);
    void add('b');
    await clock.advance(199);
    expect(batches).toEqual([]);
    await clock.advance(1);
    expect(batches).toEqual([['a', 'b']]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('defaults to 100 events or 1 s', async () => {
    const { add, clock, batches } = batcher({});
    for (let i = 0; i < 150; i++) void add(`e${i}`);
    expect(batches.map((b) => b.length)).toEqual([100]);
    await clock.advance(999);
    expect(batches).toHaveLength(1);
    await clock.advance(1);
    expect(batches.map((b) => b.length)).toEqual([100, 50]);
  });

  it('flushNow hands over what is gathered and cancels the timer; with nothing gathered it does nothing', async () => {
    const { b, add, clock, batches } = batcher({ maxMessagesCount: 10, maxAwaitDurationMs: 500 });
    b.flushNow();
    expect(batches).toEqual([]);
    void add('a');
    b.flushNow();
    expect(batches).toEqual([['a']]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('retries only the events marked RETRY, after the backoff, and settles DROP and SUCCESS at once', async () => {
    const { add, clock, batches, settled } = batcher({ maxMessagesCount: 3 }, (ids, call) => (call === 1 ? { b: 'RETRY', c: 'DROP' } : undefined));
    const acks = ['a', 'b', 'c'].map(add);
    await flush();
    expect(settled).toEqual(['a:success', 'c:drop']);
    await clock.advance(99);
    expect(batches).toEqual([['a', 'b', 'c']]);
    await clock.advance(1);
    expect(batches).toEqual([['a', 'b', 'c'], ['b']]);
    await Promise.all(acks);
    expect(settled).toEqual(['a:success', 'c:drop', 'b:success']);
  });

  it('retries the whole batch when the handler throws, and settles each as failed once retries run out', async () => {
    const { add, clock, batches, settled } = batcher({ maxMessagesCount: 2 }, () => new Error('db down'), 2);
    const acks = ['a', 'b'].map(add);
    await flush();
    await clock.advance(1000);
    await Promise.all(acks);
    expect(batches).toEqual([
      ['a', 'b'],
      ['a', 'b'],
      ['a', 'b'],
    ]);
    expect(settled).toEqual(['a:retry', 'b:retry']);
  });

  it('settles events still marked RETRY as failed once retries run out', async () => {
    const { add, clock, batches, settled } = batcher({ maxMessagesCount: 2 }, () => ({ a: 'RETRY' }), 1);
    const acks = ['a', 'b'].map(add);
    await flush();
    await clock.advance(1000);
    await Promise.all(acks);
    expect(batches).toEqual([['a', 'b'], ['a']]);
    expect(settled).toEqual(['b:success', 'a:retry']);
  });

  it('rejects an event’s promise when settling it fails, and resolves the others', async () => {
    const { add, settled } = batcher({ maxMessagesCount: 2 });
    const good = add('good');
    const bad = add('bad-ack');
    await expect(good).resolves.toBeUndefined();
    await expect(bad).rejects.toThrow('ack failed');
    expect(settled).toEqual(['good:success', 'bad-ack:success']);
  });
});
