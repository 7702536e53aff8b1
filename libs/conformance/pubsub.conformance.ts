import { randomBytes, randomUUID } from 'node:crypto';
import type { MessageHandler, PubSub, ReceivedMessage, SubscribeRequest, SubscriptionHandle } from '../../src/spi/pubsub';
import { eventually } from '../../test/support/collector';

/** One client of the broker under test, as a backend's spec builds it (think: one process). */
export interface PubSubConformanceSubject {
  readonly pubsub: PubSub;
  /** Closes the component (gracefully) and anything else the spec opened. Also called after `abandon()`: must not hang then. */
  cleanup(): Promise<void>;
  /**
   * Simulates this process dying: drop connections and timers at once, without closing
   * subscriptions or acknowledging anything in flight. Required when `supportsConsumerDeath`.
   */
  abandon?(): Promise<void>;
}

export interface PubSubConformanceSetup {
  /**
   * A NEW client of the SAME broker on every call (a second call acts as another process of the
   * app). In-process backends may return one shared instance with a no-op cleanup.
   * `subscribe()` must resolve only once the subscription is ready: every message published after
   * it resolves must reach the group.
   */
  create(): Promise<PubSubConformanceSubject>;
  /** A topic no other test uses (record it to delete it afterwards). Default: `conformance-<uuid>`. */
  uniqueTopic?(): string;
  /** Messages with one `partitionKey` are delivered in publish order, one at a time (Kafka). */
  readonly ordered: boolean;
  /** The longest a rejected or abandoned (un-acked) message takes to be delivered again. */
  readonly redeliveryAfterMs: number;
  /** A message held by an abandoned instance reaches another instance of the same group. */
  readonly supportsConsumerDeath: boolean;
  /** Custom publish metadata entries reach the subscriber. Default true. */
  readonly carriesMetadata?: boolean;
  /**
   * Ordered backends: two partition keys that land on different partitions of a fresh topic; the
   * failing message goes on `poison`, the others on `healthy` (per-partition blocking is allowed).
   */
  readonly isolatedKeys?: { readonly poison: string; readonly healthy: string };
}

const DELIVERY_MS = 10_000;
const QUIET_MS = 300;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const text = (message: ReceivedMessage): string => message.data.toString('utf8');
const sorted = (values: readonly string[]): string[] => [...values].sort();
const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

/** Polls `done` every 20 ms; fails naming `what` after `timeoutMs`. */
const waitFor = (what: string, done: () => boolean, timeoutMs: number): Promise<void> => eventually(done, timeoutMs, what);

/** Records every delivery; resolves (acks) unless `fail` says otherwise. */
function inbox(fail: (message: ReceivedMessage, attempt: number) => boolean = () => false, delayMs = 0) {
  const received: ReceivedMessage[] = [];
  const handled: string[] = [];
  const attempts = new Map<string, number>();
  const handler: MessageHandler = async (message) => {
    received.push(message);
    const attempt = (attempts.get(text(message)) ?? 0) + 1;
    attempts.set(text(message), attempt);
    if (delayMs > 0) await sleep(delayMs);
    if (fail(message, attempt)) throw new Error(`conformance: rejecting ${text(message)} (attempt ${attempt})`);
    handled.push(text(message));
  };
  return { received, handled, attempts, handler, texts: () => received.map(text) };
}

/**
 * The behaviour every pub/sub must share, as one jest suite: fan-out, competing consumers,
 * at-least-once redelivery, per-key ordering, large payloads, bulk publish, consumer death,
 * graceful close and metadata. Each test uses its own topic.
 */
export function describePubSubConformance(label: string, setup: PubSubConformanceSetup): void {
  describe(`${label}: pub/sub conformance`, () => {
    const run = randomUUID().slice(0, 8);
    let counter = 0;
    const topicName = (): string => setup.uniqueTopic?.() ?? `conformance-${run}-${++counter}`;
    const redeliveryMs = setup.redeliveryAfterMs * 2 + DELIVERY_MS;
    const testMs = 30_000 + setup.redeliveryAfterMs * 4;
    const subjects: PubSubConformanceSubject[] = [];
    const handles: SubscriptionHandle[] = [];
    let main: PubSubConformanceSubject;

    const open = async (): Promise<PubSubConformanceSubject> => {
      const subject = await setup.create();
      subjects.push(subject);
      return subject;
    };
    const subscribe = async (subject: PubSubConformanceSubject, request: SubscribeRequest, handler: MessageHandler, track = true) => {
      const handle = await subject.pubsub.subscribe(request, handler);
      if (track) handles.push(handle);
      return handle;
    };
    const publishAll = async (topic: string, bodies: readonly string[], key?: (body: string) => string): Promise<void> => {
      for (const body of bodies) {
        await main.pubsub.publish({ topic, data: Buffer.from(body), ...(key ? { metadata: { partitionKey: key(body) } } : {}) });
      }
    };

    beforeAll(async () => {
      main = await open();
    }, 30_000);

    afterEach(async () => {
      const closing = handles.splice(0).map((h) => h.close());
      await Promise.all(closing);
      for (const subject of subjects.splice(1)) await subject.cleanup();
    }, 30_000);

    afterAll(async () => {
      await main?.cleanup();
    }, 30_000);

    it(
      'fan-out: every consumer group gets every message, once',
      async () => {
        const topic = topicName();
        const a = inbox();
        const b = inbox();
        await subscribe(main, { topic, consumerGroup: 'fan-a' }, a.handler);
        await subscribe(await open(), { topic, consumerGroup: 'fan-b' }, b.handler);
        const sent = names('fan', 20);
        await publishAll(topic, sent);
        await waitFor('20 messages in each group', () => a.received.length >= 20 && b.received.length >= 20, DELIVERY_MS);
        await sleep(QUIET_MS);
        expect(sorted(a.texts())).toEqual(sent);
        expect(sorted(b.texts())).toEqual(sent);
        expect(a.received.every((m) => m.topic === topic)).toBe(true);
      },
      testMs,
    );

    it(
      'competing consumers: two instances in one group split the messages, each exactly once',
      async () => {
        const topic = topicName();
        const x = inbox(undefined, 5);
        const y = inbox(undefined, 5);
        await subscribe(main, { topic, consumerGroup: 'workers' }, x.handler);
        await subscribe(await open(), { topic, consumerGroup: 'workers' }, y.handler);
        const sent = names('work', 40);
        await publishAll(topic, sent, (body) => `key-${body}`); // distinct keys spread over partitions
        const total = (): number => x.received.length + y.received.length;
        await waitFor('40 messages across the group', () => total() >= 40, DELIVERY_MS);
        await sleep(QUIET_MS);
        expect(sorted([...x.texts(), ...y.texts()])).toEqual(sent);
        expect(x.received.length).toBeGreaterThan(0);
        expect(y.received.length).toBeGreaterThan(0);
      },
      testMs,
    );

    it(
      'at-least-once: a rejected delivery comes back, and nothing is lost',
      async () => {
        const topic = topicName();
        const box = inbox((m, attempt) => text(m) === 'retry-me' && attempt === 1);
        await subscribe(main, { topic, consumerGroup: 'alo' }, box.handler);
        const sent = ['before', 'retry-me', 'after'];
        await publishAll(topic, sent, () => 'alo-key');
        await waitFor('retry-me delivered again and all three handled', () => box.handled.length >= 3, redeliveryMs);
        expect(box.attempts.get('retry-me')).toBe(2);
        await sleep(QUIET_MS);
        expect(sorted(box.handled)).toEqual(sorted(sent)); // each handled once: an acked message is not redelivered
      },
      testMs,
    );

    it(
      'at-least-once: a message that always fails is redelivered and does not stop the others',
      async () => {
        const topic = topicName();
        if (setup.ordered && !setup.isolatedKeys) throw new Error(`${label}: ordered backends must give isolatedKeys`);
        const keys = setup.isolatedKeys ?? { poison: 'poison', healthy: 'healthy' };
        const box = inbox((m) => text(m) === 'poison');
        await subscribe(main, { topic, consumerGroup: 'poison' }, box.handler);
        const healthy = names('ok', 10);
        await publishAll(topic, ['poison'], () => keys.poison);
        await publishAll(topic, healthy, () => keys.healthy);
        await waitFor('the 10 healthy messages', () => box.handled.length >= 10, DELIVERY_MS + setup.redeliveryAfterMs);
        await waitFor('poison delivered at least twice', () => (box.attempts.get('poison') ?? 0) >= 2, redeliveryMs);
        expect(sorted(box.handled)).toEqual(healthy);
      },
      testMs,
    );

    onlyIf(setup.ordered)(
      'ordering: 100 messages with one partition key arrive in publish order',
      async () => {
        const topic = topicName();
        const box = inbox();
        await subscribe(main, { topic, consumerGroup: 'ordered' }, box.handler);
        const sent = names('seq', 100);
        await publishAll(topic, sent, () => 'one-key');
        await waitFor('100 messages', () => box.received.length >= 100, DELIVERY_MS * 2);
        expect(box.texts()).toEqual(sent);
      },
      testMs,
    );

    it(
      'several subscriptions of one client in one consumer group, on different topics: each gets every message of its topic',
      async () => {
        const topics = [topicName(), topicName(), topicName()];
        const boxes = topics.map(() => inbox());
        for (const [i, topic] of topics.entries()) await subscribe(main, { topic, consumerGroup: `multi-${run}` }, boxes[i]!.handler);
        const sent = names('multi', 30);
        for (const topic of topics) await publishAll(topic, sent, (body) => `key-${body}`);
        await waitFor('30 messages on each of the 3 topics', () => boxes.every((box) => new Set(box.handled).size >= sent.length), DELIVERY_MS);
        for (const box of boxes) expect(sorted([...new Set(box.handled)])).toEqual(sent);
      },
      testMs,
    );

    it(
      'a message whose handler keeps failing slowly (retrying with backoff) does not delay the other keys',
      async () => {
        const topic = topicName();
        if (setup.ordered && !setup.isolatedKeys) throw new Error(`${label}: ordered backends must give isolatedKeys`);
        const keys = setup.isolatedKeys ?? { poison: 'poison', healthy: 'healthy' };
        const backoffMs = 400; // what a handler retrying in place spends on each delivery of the poison message
        const sentAt = new Map<string, number>();
        const latencies: number[] = [];
        let poisonAttempts = 0;
        await subscribe(main, { topic, consumerGroup: `slow-poison-${run}` }, async (m) => {
          if (text(m) === 'poison') {
            poisonAttempts += 1;
            await sleep(backoffMs);
            throw new Error('conformance: poison');
          }
          const at = sentAt.get(text(m));
          if (at !== undefined) latencies.push(Date.now() - at);
        });
        await publishAll(topic, ['poison'], () => keys.poison);
        await waitFor('the poison message attempted', () => poisonAttempts >= 1, DELIVERY_MS);
        const healthy = names('fast', 30);
        for (const body of healthy) {
          sentAt.set(body, Date.now());
          await main.pubsub.publish({ topic, data: Buffer.from(body), metadata: { partitionKey: keys.healthy } });
          await sleep(20);
        }
        await waitFor('the 30 healthy messages', () => latencies.length >= healthy.length, DELIVERY_MS);
        const p50 = [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length / 2)] ?? Infinity;
        expect(poisonAttempts).toBeGreaterThanOrEqual(1);
        expect(p50).toBeLessThan(backoffMs / 4);
      },
      testMs,
    );

    it(
      'string data arrives as its UTF-8 bytes',
      async () => {
        const topic = topicName();
        const box = inbox();
        await subscribe(main, { topic, consumerGroup: 'text' }, box.handler);
        const text = '{"s":"é 日本 🚀"}';
        await main.pubsub.publish({ topic, data: text, contentType: 'application/json' });
        await waitFor('the text message', () => box.received.length >= 1, DELIVERY_MS);
        const got = box.received[0]!.data;
        expect(Buffer.isBuffer(got)).toBe(true);
        expect(got.equals(Buffer.from(text, 'utf8'))).toBe(true);
      },
      testMs,
    );

    it(
      'a 1 MiB payload round trips byte-exact',
      async () => {
        const topic = topicName();
        const box = inbox();
        await subscribe(main, { topic, consumerGroup: 'big' }, box.handler);
        const payload = randomBytes(1024 * 1024);
        await main.pubsub.publish({ topic, data: payload, contentType: 'application/octet-stream' });
        await waitFor('the 1 MiB message', () => box.received.length >= 1, DELIVERY_MS);
        const got = box.received[0]!.data;
        expect(Buffer.isBuffer(got)).toBe(true);
        expect(got.length).toBe(payload.length);
        expect(got.equals(payload)).toBe(true);
      },
      testMs,
    );

    it(
      'bulkPublish: 50 messages all arrive and none fails (or bulkPublish is absent and not advertised)',
      async () => {
        const bulk = main.pubsub.bulkPublish?.bind(main.pubsub);
        if (!bulk) {
          expect(main.pubsub.features).not.toContain('BULK_PUBLISH');
          return;
        }
        const topic = topicName();
        const box = inbox();
        await subscribe(main, { topic, consumerGroup: 'bulk' }, box.handler);
        const sent = names('bulk', 50);
        const result = await bulk(sent.map((body) => ({ topic, data: Buffer.from(body), metadata: { partitionKey: `k-${body}` } })));
        expect(result.failed).toEqual([]);
        await waitFor('50 bulk messages', () => box.received.length >= 50, DELIVERY_MS);
        await sleep(QUIET_MS);
        expect(sorted(box.texts())).toEqual(sent);
      },
      testMs,
    );

    onlyIf(setup.supportsConsumerDeath)(
      'a message held by a consumer that dies is delivered to another instance of the group',
      async () => {
        const topic = topicName();
        const dying = await open();
        const survivor = await open();
        let release: () => void = () => undefined;
        const never = new Promise<void>((resolve) => (release = resolve));
        const held: string[] = [];
        await subscribe(
          dying,
          { topic, consumerGroup: 'death' },
          async (m) => {
            held.push(text(m));
            await never;
          },
          false,
        );
        await main.pubsub.publish({ topic, data: Buffer.from('orphan') });
        await waitFor('the dying consumer to receive the message', () => held.length === 1, DELIVERY_MS);
        if (!dying.abandon) throw new Error(`${label}: supportsConsumerDeath needs abandon()`);
        await dying.abandon();
        const box = inbox();
        await subscribe(survivor, { topic, consumerGroup: 'death' }, box.handler);
        await waitFor('the orphan to reach the surviving instance', () => box.handled.length >= 1, redeliveryMs);
        release(); // the dead consumer's handler "finishes" now: it must not ack or deliver anything
        await main.pubsub.publish({ topic, data: Buffer.from('next') });
        await waitFor('a new message to reach the survivor', () => box.handled.includes('next'), DELIVERY_MS);
        expect(box.handled).toEqual(['orphan', 'next']);
        expect(held).toEqual(['orphan']);
      },
      testMs,
    );

    it(
      'close(): waits for the in-flight handler, acks its message, then delivers nothing more',
      async () => {
        const topic = topicName();
        let release: () => void = () => undefined;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const got: string[] = [];
        let finished = false;
        const handle = await subscribe(
          main,
          { topic, consumerGroup: 'closing' },
          async (m) => {
            got.push(text(m));
            await gate;
            finished = true;
          },
          false,
        );
        await main.pubsub.publish({ topic, data: Buffer.from('slow') });
        await waitFor('the slow message', () => got.length === 1, DELIVERY_MS);
        let closed = false;
        const closing = handle.close().then(() => {
          closed = true;
        });
        try {
          await sleep(QUIET_MS);
          expect(closed).toBe(false); // still waiting for the handler
        } finally {
          release();
          await closing;
        }
        expect(finished).toBe(true);
        const later = inbox();
        await subscribe(await open(), { topic, consumerGroup: 'closing' }, later.handler);
        await expect(handle.close()).resolves.toBeUndefined(); // closing again is harmless
        await main.pubsub.publish({ topic, data: Buffer.from('after-close') });
        await waitFor('after-close at the new subscriber', () => later.received.length >= 1, DELIVERY_MS);
        await sleep(setup.redeliveryAfterMs + QUIET_MS); // 'slow' was acked: it must not come back
        expect(later.texts()).toEqual(['after-close']);
        expect(got).toEqual(['slow']);
      },
      testMs,
    );

    it(
      'metadata: topic, data and custom metadata reach the subscriber',
      async () => {
        const topic = topicName();
        const box = inbox();
        await subscribe(main, { topic, consumerGroup: 'meta' }, box.handler);
        const data = Buffer.from(JSON.stringify({ s: 'é 日本 🚀', bytes: [0, 255] }));
        await main.pubsub.publish({ topic, data, metadata: { partitionKey: 'meta-key', 'x-custom': 'custom value é' } });
        await waitFor('the message', () => box.received.length >= 1, DELIVERY_MS);
        const got = box.received[0]!;
        expect(got.topic).toBe(topic);
        expect(got.data.equals(data)).toBe(true);
        expect(typeof got.metadata).toBe('object');
        if (setup.carriesMetadata ?? true) expect(got.metadata['x-custom']).toBe('custom value é');
      },
      testMs,
    );
  });
}

/**
 * Cases a backend cannot have (ordering on an unordered broker, another process on an in-process
 * one) are not registered at all, so CI never reports them as skipped.
 */
function onlyIf(applies: boolean): jest.It {
  return applies ? it : ((() => undefined) as unknown as jest.It);
}
