import { DropEvent, RetryEvent } from '../../src/errors/pubsub.errors';
import { SidekickError } from '../../src/errors/sidekick.error';
import type { InvokeService } from '../../src/runtime/blocks/invoke/invoke.service';
import type { InvokeRequest } from '../../src/runtime/blocks/invoke/invoke.types';
import { outcomeOf } from '../../src/runtime/blocks/pubsub/outcome';
import type { TopicEvent } from '../../src/runtime/blocks/pubsub/pubsub.types';
import { httpTarget, methodTarget } from '../../src/runtime/blocks/pubsub/route.targets';

const event = (id: string, data: unknown = { n: 1 }): TopicEvent => ({
  id,
  source: 'checkout',
  type: 'com.dapr.event.sent',
  topic: 'orders',
  pubsubname: 'pubsub',
  data,
  envelope: { specversion: '1.0', id, source: 'checkout', type: 'com.dapr.event.sent', data },
  metadata: {},
});

describe('outcomeOf (a handler call as an Outcome)', () => {
  it('a synchronous return is a success at once, with no promise', () => {
    const outcome = outcomeOf(() => 42);
    expect(outcome).toEqual({ status: 'success' });
    expect(outcome).not.toBeInstanceOf(Promise);
    expect(outcomeOf(() => undefined)).toBe(outcome); // one shared object: nothing allocated per event
  });

  it('a synchronous throw is a retryable failure at once', () => {
    const outcome = outcomeOf(() => {
      throw new Error('db down');
    });
    expect(outcome).toMatchObject({ status: 'retry', retryable: true, error: { message: 'db down' } });
  });

  it('an asynchronous handler settles into a promise of its outcome', async () => {
    const ok = outcomeOf(async () => 'fine');
    expect(ok).toBeInstanceOf(Promise);
    await expect(ok).resolves.toEqual({ status: 'success' });
    await expect(outcomeOf(() => Promise.reject(new Error('later')))).resolves.toMatchObject({ status: 'retry', retryable: true, error: { message: 'later' } });
    // A thenable that is not a Promise counts as asynchronous too.
    const thenable = { then: (ok: (v: unknown) => void) => ok(1) };
    await expect(outcomeOf(() => thenable)).resolves.toEqual({ status: 'success' });
  });

  it('DropEvent (code DROP) drops, thrown or rejected, with its reason', async () => {
    expect(
      outcomeOf(() => {
        throw new DropEvent('poison');
      }),
    ).toEqual({ status: 'drop', reason: 'poison' });
    await expect(outcomeOf(() => Promise.reject(new DropEvent()))).resolves.toEqual({ status: 'drop', reason: 'dropped by the handler' });
  });

  it('a SidekickError is retried only when retryable; RetryEvent and plain errors with a code are retried', () => {
    const thrown = (err: unknown) =>
      outcomeOf(() => {
        throw err;
      });
    expect(thrown(new SidekickError('ERR_BAD_INPUT', 'bad order'))).toMatchObject({ status: 'retry', retryable: false });
    expect(thrown(new SidekickError('ERR_BACKEND', 'busy', { retryable: true }))).toMatchObject({ status: 'retry', retryable: true });
    expect(thrown(new RetryEvent())).toMatchObject({ status: 'retry', retryable: true });
    expect(thrown(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toMatchObject({ status: 'retry', retryable: true });
    // Any error that says retryable: false is not retried (the same rule as resiliency policies).
    expect(thrown(Object.assign(new Error('no'), { retryable: false }))).toMatchObject({ status: 'retry', retryable: false });
  });

  it('a thrown non-Error becomes an Error carrying its message', () => {
    const outcome = outcomeOf(() => {
      throw 'plain string';
    });
    expect(outcome).toEqual({ status: 'retry', retryable: true, error: new Error('plain string') });
    expect((outcome as { error: unknown }).error).toBeInstanceOf(Error);
  });
});

describe('methodTarget (a @Subscribe method)', () => {
  class Handlers {
    readonly seen: unknown[] = [];
    sync(e: TopicEvent): void {
      this.seen.push(e.id);
    }
    async later(e: TopicEvent): Promise<void> {
      this.seen.push(e.id);
    }
    fails(): void {
      throw new Error(`failed in ${this.constructor.name}`);
    }
    async bulk(events: readonly TopicEvent[]): Promise<Record<string, string>> {
      return { [events[0]?.id ?? '']: 'RETRY' };
    }
  }
  const found = (instance: Handlers, methodName: keyof Handlers, rules?: string[]) => ({
    instance,
    methodName,
    name: `Handlers.${methodName}`,
    options: { pubsub: 'pubsub', topic: 'orders', rules: rules?.map((match) => ({ match })) },
  });

  it('calls the method on its instance: synchronously for a sync method, as a promise for an async one', async () => {
    const h = new Handlers();
    const sync = methodTarget(found(h, 'sync'));
    expect(sync).toMatchObject({ name: 'Handlers.sync', rules: [] });
    expect(sync.deliver(event('a'))).toEqual({ status: 'success' });
    const later = methodTarget(found(h, 'later', ['event.data.n > 1']));
    expect(later.rules).toEqual(['event.data.n > 1']);
    const pending = later.deliver(event('b'));
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).resolves.toEqual({ status: 'success' });
    expect(h.seen).toEqual(['a', 'b']);
    expect(methodTarget(found(h, 'fails')).deliver(event('c'))).toMatchObject({ status: 'retry', error: { message: 'failed in Handlers' } });
  });

  it('hands bulk handlers the events and returns their statuses', async () => {
    await expect(methodTarget(found(new Handlers(), 'bulk')).deliverBulk?.([event('x'), event('y')])).resolves.toEqual({ x: 'RETRY' });
  });
});

describe('httpTarget (a declarative subscription to an app path)', () => {
  function invoker(reply: { status: number; body?: string } | Error) {
    const calls: { appId: string; req: InvokeRequest }[] = [];
    const invoke = {
      invoke: async (appId: string, req: InvokeRequest) => {
        calls.push({ appId, req });
        if (reply instanceof Error) throw reply;
        return { status: reply.status, headers: {}, body: Buffer.from(reply.body ?? '') };
      },
    } as unknown as InvokeService;
    return { invoke, calls };
  }
  const deliver = (reply: { status: number; body?: string } | Error) => httpTarget(invoker(reply).invoke, 'shop', '/orders', [], 'pubsub').deliver(event('e1'));

  it('POSTs the CloudEvent to the path on this app', async () => {
    const { invoke, calls } = invoker({ status: 200 });
    const target = httpTarget(invoke, 'shop', '//orders', ['event.type == "x"'], 'pubsub');
    expect(target).toMatchObject({ name: 'POST /orders', rules: ['event.type == "x"'] });
    await target.deliver(event('e1'));
    expect(calls).toHaveLength(1);
    expect(calls[0]?.appId).toBe('shop');
    expect(calls[0]?.req).toMatchObject({ verb: 'POST', method: 'orders', headers: { 'content-type': 'application/json', pubsubname: 'pubsub' } });
    expect(JSON.parse(String(calls[0]?.req.body))).toMatchObject({ id: 'e1', data: { n: 1 } });
  });

  it.each([
    [200, '', 'success'],
    [204, '', 'success'],
    [200, '{"status":"SUCCESS"}', 'success'],
    [200, '{"status":""}', 'success'],
    [200, 'not json', 'success'],
    [200, '{"status":"DROP"}', 'drop'],
    [200, '{"status":"RETRY"}', 'retry'],
    [200, '{"status":"MAYBE"}', 'retry'],
    [404, '', 'drop'],
    [500, 'boom', 'retry'],
    [302, '', 'retry'],
  ])('answer %d %j is %s', async (status, body, expected) => {
    expect(await deliver({ status, body })).toMatchObject({ status: expected });
  });

  it('retries when the app cannot be reached, and says why', async () => {
    expect(await deliver(new Error('ECONNREFUSED'))).toMatchObject({ status: 'retry', retryable: true, error: { message: 'ECONNREFUSED' } });
    expect(await deliver({ status: 503, body: 'x'.repeat(500) })).toMatchObject({
      status: 'retry',
      error: { message: `/orders answered 503: ${'x'.repeat(200)}` },
    });
  });

  describe('bulk', () => {
    const bulk = (reply: { status: number; body?: string }) => {
      const { invoke, calls } = invoker(reply);
      const result = httpTarget(invoke, 'shop', 'orders', [], 'pubsub').deliverBulk?.([event('a'), event('b'), event('c')]);
      return { result, calls };
    };

    it('posts every entry and reads a status per entry; a missing or unknown one means RETRY', async () => {
      const body = JSON.stringify({
        statuses: [
          { entryId: 'a', status: 'SUCCESS' },
          { entryId: 'b', status: 'DROP' },
          { entryId: 'c', status: 'LATER' },
        ],
      });
      const { result, calls } = bulk({ status: 200, body });
      await expect(result).resolves.toEqual({ a: 'SUCCESS', b: 'DROP', c: 'RETRY' });
      const sent = JSON.parse(String(calls[0]?.req.body)) as { type: string; entries: { entryId: string }[] };
      expect(sent.type).toBe('com.dapr.event.sent.bulk');
      expect(sent.entries.map((e) => e.entryId)).toEqual(['a', 'b', 'c']);
    });

    it('retries every entry on an unparsable reply, drops all on 404, and throws (retry all) on other errors', async () => {
      await expect(bulk({ status: 200, body: 'nope' }).result).resolves.toEqual({ a: 'RETRY', b: 'RETRY', c: 'RETRY' });
      await expect(bulk({ status: 404 }).result).resolves.toEqual({ a: 'DROP', b: 'DROP', c: 'DROP' });
      await expect(bulk({ status: 500 }).result).rejects.toThrow('bulk delivery to /orders answered 500');
    });
  });
});
