import { randomUUID } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import type Redis from 'ioredis';
import { ConfigError } from '../../src/errors/config.errors';
import { SystemClock } from '../../src/runtime/time/system.clock';
import type { Clock } from '../../src/spi/clock';
import type { ComponentMetadata } from '../../src/spi/component';
import type { ReceivedMessage, SubscriptionHandle } from '../../src/spi/pubsub';
import { noopLogger } from '../../test/support/logger';
import { rawRedis, redisHostPort, redisUrl, requireRedis } from '../../test/support/services';
import { describePubSubConformance } from '../conformance/pubsub.conformance';
import { REDIS_STREAM_ID, type RedisPubSub, redisPubSubFactory } from './redis.pubsub';
import { eventually } from '../../test/support/collector';
import { componentInit } from '../../src/spi/metadata-reader';

const run = randomUUID().slice(0, 8);
const topics: string[] = [];
let counter = 0;
const topic = (): string => {
  const name = `sidekick-test-pubsub-${run}-${++counter}`;
  topics.push(name);
  return name;
};

function metadata(extra: Record<string, string> = {}): Record<string, string> {
  const url = new URL(redisUrl());
  const md: Record<string, string> = { redisHost: redisHostPort(), processingTimeout: '1s', redeliverInterval: '500ms' };
  if (url.password) md.redisPassword = decodeURIComponent(url.password);
  if (url.username) md.redisUsername = decodeURIComponent(url.username);
  if (url.pathname.length > 1) md.redisDB = url.pathname.slice(1);
  return { ...md, ...extra };
}

async function openPubSub(md: ComponentMetadata = metadata(), clock: Clock = new SystemClock()): Promise<RedisPubSub> {
  const pubsub = redisPubSubFactory.create();
  await pubsub.init(componentInit({ name: 'pubsub', type: 'pubsub.redis', appId: 'app', metadata: md, clock, logger: noopLogger, source: '(test)' }));
  return pubsub;
}

const waitFor = (what: string, done: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> => eventually(done, timeoutMs, what);

// Every stream a test created, whichever describe ran (a filtered run skips the describes' hooks).
afterAll(async () => {
  if (topics.length === 0) return;
  const raw = rawRedis();
  await raw.connect();
  await raw.del(...topics);
  await raw.quit();
});

describePubSubConformance('pubsub.redis', {
  ordered: false, // one stream, concurrent handlers: no per-key order
  redeliveryAfterMs: 1500, // processingTimeout 1s + redeliverInterval 500ms
  supportsConsumerDeath: true,
  uniqueTopic: topic,
  async create() {
    await requireRedis();
    const pubsub = await openPubSub();
    return { pubsub, cleanup: () => pubsub.close(), abandon: async () => pubsub.abort() };
  },
});

describe('pubsub.redis: stream layout and Redis specifics', () => {
  let pubsub: RedisPubSub;
  let raw: Redis;
  const handles: SubscriptionHandle[] = [];
  const others: RedisPubSub[] = [];

  beforeAll(async () => {
    await requireRedis();
    pubsub = await openPubSub();
    raw = rawRedis();
    await raw.connect();
  });

  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.close()));
    await Promise.all(others.splice(0).map((p) => p.close()));
  });

  afterAll(async () => {
    await pubsub?.close();
    await raw?.quit();
  });

  const collect = async (t: string, group = 'app', on: RedisPubSub = pubsub) => {
    const got: ReceivedMessage[] = [];
    handles.push(await on.subscribe({ topic: t, consumerGroup: group }, async (m) => void got.push(m)));
    return got;
  };

  it('XADDs field data with the exact bytes and field metadata as JSON; the stream id reaches the handler', async () => {
    const t = topic();
    const got = await collect(t);
    const bytes = Buffer.from([0, 255, 10, 13, 0x7b, 0x22, 0xc3]);
    await pubsub.publish({ topic: t, data: bytes, metadata: { partitionKey: 'k', custom: 'v' } });
    await pubsub.publish({ topic: t, data: Buffer.from('plain') });
    expect(await raw.xlen(t)).toBe(2);
    const entries = await raw.xrangeBuffer(t, '-', '+');
    const [id, fields] = entries[0]!;
    expect(fields.map(String).filter((_, i) => i % 2 === 0)).toEqual(['data', 'metadata']);
    expect(fields[1]!.equals(bytes)).toBe(true);
    expect(JSON.parse(String(fields[3]))).toEqual({ partitionKey: 'k', custom: 'v' });
    expect(entries[1]![1].map(String)).toEqual(['data', 'plain', 'metadata', '{}']); // no metadata: {} as daprd writes
    await waitFor('two messages', () => got.length === 2);
    expect(got[0]!.data.equals(bytes)).toBe(true);
    expect(got[0]!.metadata).toEqual({ partitionKey: 'k', custom: 'v', [REDIS_STREAM_ID]: String(id) });
  });

  it('reads entries written the daprd way (data + JSON metadata) and by other producers (extra fields)', async () => {
    const t = topic();
    const got = await collect(t);
    await raw.xadd(t, '*', 'data', '{"a":1}', 'metadata', '{"traceparent":"00-1"}');
    await raw.xadd(t, '*', 'data', 'x', 'source', 'legacy');
    await raw.xadd(t, '*', 'data', 'bare');
    await waitFor('three messages', () => got.length === 3);
    const byData = new Map(got.map((m) => [m.data.toString(), m.metadata]));
    expect(byData.get('{"a":1}')?.traceparent).toBe('00-1');
    expect(byData.get('x')?.source).toBe('legacy');
    expect(byData.get('bare')).toEqual({ [REDIS_STREAM_ID]: expect.any(String) }); // no metadata field: none
  });

  it('XPENDING is 1 while the handler runs and 0 once it resolved', async () => {
    const t = topic();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    handles.push(
      await pubsub.subscribe({ topic: t, consumerGroup: 'app' }, async () => {
        started = true;
        await gate;
      }),
    );
    await pubsub.publish({ topic: t, data: Buffer.from('x') });
    await waitFor('the handler to start', () => started);
    const pending = async (): Promise<number> => Number(((await raw.xpending(t, 'app')) as unknown[])[0]);
    expect(await pending()).toBe(1);
    release();
    await waitFor('XPENDING 0', async () => (await pending()) === 0);
  });

  it('acknowledges a burst with fewer XACKs than entries; failed entries stay pending, the rest are acked', async () => {
    const t = topic();
    // Published before the subscription exists, so the first XREADGROUP returns all 12 at once.
    for (let i = 0; i < 12; i++) await pubsub.publish({ topic: t, data: Buffer.from(String(i)) });
    const xacks = async (): Promise<number> => Number(/cmdstat_xack:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
    const before = await xacks();
    const handled: string[] = [];
    handles.push(
      await pubsub.subscribe({ topic: t, consumerGroup: 'app', concurrency: 12 }, (m) => {
        const n = Number(m.data.toString());
        handled.push(String(n));
        return n % 4 === 0 ? Promise.reject(new Error(`entry ${n} fails`)) : Promise.resolve();
      }),
    );
    const pendingIds = async (): Promise<string[]> => ((await raw.xpending(t, 'app', '-', '+', 100)) as [string][]).map((p) => p[0]);
    await waitFor('9 of 12 acked', async () => handled.length >= 12 && (await pendingIds()).length === 3);
    const entries = await raw.xrange(t, '-', '+');
    const failedIds = entries.filter(([, fields]) => Number(fields[1]) % 4 === 0).map(([id]) => id);
    expect((await pendingIds()).sort()).toEqual(failedIds.sort());
    // Other tests' subscriptions may XACK meanwhile; this burst alone took one or two.
    expect((await xacks()) - before).toBeLessThan(9);
  });
  it('a handler slower than processingTimeout is not handed to another consumer meanwhile', async () => {
    const t = topic();
    // The slow instance's own XAUTOCLAIM would also keep the entry (it re-claims it for itself): run it rarely.
    const slow = await openPubSub(metadata({ redeliverInterval: '1m' }));
    const other = await openPubSub();
    others.push(slow, other);
    let slowCalls = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    handles.push(
      await slow.subscribe({ topic: t, consumerGroup: 'app' }, async () => {
        slowCalls += 1;
        await gate;
      }),
    );
    await pubsub.publish({ topic: t, data: Buffer.from('slow') });
    await waitFor('the slow handler to start', () => slowCalls === 1);
    const stolen = await collect(t, 'app', other);
    await new Promise((resolve) => setTimeout(resolve, 2500)); // 2.5 x processingTimeout
    release();
    expect(stolen).toEqual([]);
    expect(slowCalls).toBe(1);
  });

  it('maxLenApprox trims the stream (MAXLEN ~)', async () => {
    const t = topic();
    const trimmed = await openPubSub(metadata({ maxLenApprox: '10' }));
    others.push(trimmed);
    const result = await trimmed.bulkPublish(Array.from({ length: 1000 }, (_, i) => ({ topic: t, data: Buffer.from(String(i)) })));
    expect(result.failed).toEqual([]);
    const length = await raw.xlen(t);
    expect(length).toBeGreaterThanOrEqual(10);
    expect(length).toBeLessThan(200); // approximate: whole nodes (100 entries) are trimmed
  });

  it('streamTTL trims entries older than the TTL by the injected clock (MINID ~)', async () => {
    const t = topic();
    const future = new (class extends SystemClock {
      override now(): number {
        return Date.now() + 2 * 3_600_000;
      }
    })();
    const aged = await openPubSub(metadata({ streamTTL: '1h' }), future);
    others.push(aged);
    await pubsub.bulkPublish(Array.from({ length: 300 }, (_, i) => ({ topic: t, data: Buffer.from(String(i)) })));
    expect(await raw.xlen(t)).toBe(300);
    await aged.publish({ topic: t, data: Buffer.from('new') });
    expect(await raw.xlen(t)).toBeLessThan(150);
  });

  it('consumerID names the consumer group, whatever the subscriber asks for; close() removes the consumer', async () => {
    const t = topic();
    const custom = await openPubSub(metadata({ consumerID: 'custom-group' }));
    others.push(custom);
    const got: ReceivedMessage[] = [];
    const handle = await custom.subscribe({ topic: t, consumerGroup: 'app' }, async (m) => void got.push(m));
    await custom.publish({ topic: t, data: Buffer.from('x') });
    await waitFor('the message', () => got.length === 1);
    const groups = (await raw.xinfo('GROUPS', t)) as unknown[][];
    expect(groups.map((g) => String(g[1]))).toEqual(['custom-group']);
    const consumers = async (): Promise<number> => ((await raw.xinfo('CONSUMERS', t, 'custom-group')) as unknown[]).length;
    expect(await consumers()).toBe(1);
    await handle.close();
    expect(await consumers()).toBe(0);
  });

  it('keeps delivering after its blocking connection is killed (the lost XREADGROUP times out and is issued again)', async () => {
    const t = topic();
    const got = await collect(t);
    await pubsub.publish({ topic: t, data: Buffer.from('before') });
    await waitFor('the first message', () => got.length === 1);
    // Kill every subscriber connection of this process's Redis pub/subs (named "...-sub").
    const clients = String(await raw.call('CLIENT', 'LIST'))
      .split('\n')
      .filter((line) => / name=\S*-sub /.test(line));
    expect(clients.length).toBeGreaterThan(0);
    for (const line of clients) await raw.call('CLIENT', 'KILL', 'ID', /\bid=(\d+)/.exec(line)?.[1] ?? '');
    await pubsub.publish({ topic: t, data: Buffer.from('after') });
    await waitFor('the message published after the kill', () => got.length === 2, 12_000);
    expect(got.map((m) => m.data.toString())).toEqual(['before', 'after']);
  }, 20_000);

  it('gives up a read on a connection that stopped answering without closing, and reads on a new one', async () => {
    // A TCP proxy whose connections can be frozen: bytes stop flowing both ways, the sockets stay open
    // (a half-open connection: no close event, the blocked XREADGROUP never answers).
    const pairs: [Socket, Socket][] = [];
    const [host, port] = [
      redisHostPort()
        .replace(/:\d+$/, '')
        .replace(/^\[|\]$/g, ''),
      Number(/:(\d+)$/.exec(redisHostPort())?.[1]),
    ];
    const proxy = createServer((client) => {
      const upstream = connect(port, host);
      for (const socket of [client, upstream]) socket.on('error', () => undefined);
      client.pipe(upstream).pipe(client);
      pairs.push([client, upstream]);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    // No redelivery (processingTimeout 0): an entry handed to the lost read would stay pending, so only a new read delivers.
    const via = await openPubSub(metadata({ redisHost: `127.0.0.1:${(proxy.address() as AddressInfo).port}`, processingTimeout: '0' }));
    try {
      const t = topic();
      const got: string[] = [];
      const before = pairs.length;
      await via.subscribe({ topic: t, consumerGroup: 'app' }, async (m) => void got.push(m.data.toString()));
      await pubsub.publish({ topic: t, data: Buffer.from('before') });
      await waitFor('the first message', () => got.length === 1);
      // Freeze the subscriber connection (opened by subscribe); the component's command connection keeps working.
      const subscriber = pairs.slice(before);
      expect(subscriber).toHaveLength(1);
      for (const [client, upstream] of subscriber) {
        client.unpipe(upstream);
        upstream.unpipe(client);
      }
      // The watchdog gives the read up after one to two BLOCKING_COMMAND_TIMEOUT_MS (5 s) periods and reconnects.
      await waitFor('a new subscriber connection', () => pairs.length > before + 1, 14_000);
      await pubsub.publish({ topic: t, data: Buffer.from('after') });
      await waitFor('the message published after the reconnect', () => got.length === 2, 5_000);
      expect(got).toEqual(['before', 'after']);
    } finally {
      via.abort();
      for (const socket of pairs.flat()) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 20_000);

  it('close() returns promptly even while XREADGROUP is blocked', async () => {
    const t = topic();
    const handle = await pubsub.subscribe({ topic: t, consumerGroup: 'app' }, async () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await handle.close();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('fails init against a closed port, naming the address', async () => {
    const started = Date.now();
    await expect(openPubSub({ redisHost: '127.0.0.1:1' })).rejects.toThrow(/redis at 127\.0\.0\.1:1 is unreachable: /);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('validates metadata: redisHost required, durations and integers checked', async () => {
    await expect(openPubSub({})).rejects.toThrow(/redisHost is required/);
    await expect(openPubSub(metadata({ processingTimeout: 'soon' }))).rejects.toBeInstanceOf(ConfigError);
    await expect(openPubSub(metadata({ concurrency: '0' }))).rejects.toThrow(/concurrency/);
    await expect(openPubSub(metadata({ enableTLS: 'maybe' }))).rejects.toThrow(/enableTLS/);
  });

  it('publish after close fails; close() twice is safe', async () => {
    const closing = await openPubSub();
    await closing.close();
    await expect(closing.close()).resolves.toBeUndefined();
    await expect(closing.publish({ topic: topic(), data: Buffer.from('x') })).rejects.toThrow(/closed/);
  });
});
