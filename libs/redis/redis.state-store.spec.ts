import { randomUUID } from 'node:crypto';
import { type AddressInfo, type Socket, createServer } from 'node:net';
import type Redis from 'ioredis';
import { ConfigError } from '../../src/errors/config.errors';
import { ETagInvalidError, ETagMismatchError } from '../../src/errors/state.errors';
import { SystemClock } from '../../src/runtime/time/system.clock';
import type { ComponentMetadata } from '../../src/spi/component';
import { noopLogger } from '../../test/support/logger';
import { rawRedis, redisHostPort, redisUrl, requireRedis } from '../../test/support/services';
import { REDIS_STATE_RULES } from '../../src/spi/state.rules';
import { describeStateConformance } from '../conformance/state.conformance';
import { RedisStateStore, redisStateStoreFactory } from './redis.state-store';
import { redisPubSubFactory } from './redis.pubsub';
import { componentInit } from '../../src/spi/metadata-reader';

function metadata(): Record<string, string> {
  const url = new URL(redisUrl());
  const md: Record<string, string> = { redisHost: redisHostPort() };
  if (url.password) md.redisPassword = decodeURIComponent(url.password);
  if (url.username) md.redisUsername = decodeURIComponent(url.username);
  if (url.pathname.length > 1) md.redisDB = url.pathname.slice(1);
  return md;
}

async function openStore(md: ComponentMetadata = metadata()): Promise<RedisStateStore> {
  const store = redisStateStoreFactory.create();
  await store.init(
    componentInit({
      name: 'redis',
      type: 'state.redis',
      appId: 'app',
      metadata: md,
      clock: new SystemClock(),
      logger: noopLogger,
      source: '(test)',
    }),
  );
  return store;
}

describeStateConformance('state.redis', {
  supportsVirtualClock: false, // Redis expires keys on its own clock
  reportsExpiresAt: false, // get stays one HMGET; see the comment on RedisStateStore.get
  malformedETag: 'invalid', // etags are the decimal `version`; anything else is ETagInvalidError
  rules: REDIS_STATE_RULES, // daprd's state.redis scripts (components-contrib state/redis/redis.go)
  async create() {
    await requireRedis();
    const store = await openStore();
    return { store, cleanup: () => store.close() };
  },
});

describe('state.redis: daprd key layout and Redis specifics', () => {
  const run = randomUUID().slice(0, 8);
  let store: RedisStateStore;
  let raw: Redis;
  const written: string[] = [];
  const key = (name: string): string => {
    const full = `app||${run}-${name}`;
    written.push(full);
    return full;
  };

  beforeAll(async () => {
    await requireRedis();
    store = await openStore();
    raw = rawRedis();
    await raw.connect();
  });

  afterAll(async () => {
    if (raw && written.length > 0) await raw.del(...written);
    await raw?.quit();
    await store?.close();
  });

  it('stores a hash with data = the exact bytes and version = 1, then 2', async () => {
    const k = key('layout');
    const first = Buffer.from([0, 255, 10, 13, 0x7b, 0x22]);
    await store.set({ key: k, value: first });
    let hash = await raw.hgetallBuffer(k);
    expect(Object.keys(hash).sort()).toEqual(['data', 'version']);
    expect(hash.data?.equals(first)).toBe(true);
    expect(hash.version?.toString()).toBe('1');
    expect(await raw.type(k)).toBe('hash');
    await store.set({ key: k, value: Buffer.from('{"a":2}'), etag: '1' });
    hash = await raw.hgetallBuffer(k);
    expect(hash.data?.toString()).toBe('{"a":2}');
    expect(hash.version?.toString()).toBe('2');
    expect((await store.get(k))?.etag).toBe('2');
  });

  it('reads a hash written the daprd way and writes it back the same way', async () => {
    const k = key('daprd');
    await raw.hset(k, 'data', '{"a":1}', 'version', 7);
    const got = await store.get(k);
    expect(got?.data.toString()).toBe('{"a":1}');
    expect(got?.etag).toBe('7');
    expect((await store.bulkGet([k]))[0]?.etag).toBe('7');
    await store.set({ key: k, value: Buffer.from('{"a":2}'), etag: '7' });
    expect(await raw.hget(k, 'version')).toBe('8');
    expect(await raw.hget(k, 'data')).toBe('{"a":2}');
  });

  it('sets the TTL as the key expiry; a re-save without TTL keeps it (as daprd), -1 removes it', async () => {
    const k = key('ttl');
    await store.set({ key: k, value: Buffer.from('x'), ttlInSeconds: 100 });
    const pttl = await raw.pttl(k);
    expect(pttl).toBeGreaterThan(90_000);
    expect(pttl).toBeLessThanOrEqual(100_000);
    await store.set({ key: k, value: Buffer.from('y') });
    expect(await raw.ttl(k)).toBeGreaterThan(90);
    await store.transact([{ operation: 'upsert', request: { key: k, value: Buffer.from('z') } }]);
    expect(await raw.ttl(k)).toBeGreaterThan(90);
    expect(await raw.hget(k, 'data')).toBe('z');
    await store.set({ key: k, value: Buffer.from('w'), ttlInSeconds: -1 });
    expect(await raw.ttl(k)).toBe(-1);
  });

  it('keeps the TTL of a key daprd wrote with one when Sidekick saves it again without TTL', async () => {
    const k = key('ttl-daprd');
    await raw.hset(k, 'data', '"a"', 'version', 3);
    await raw.expire(k, 500);
    await store.set({ key: k, value: Buffer.from('"b"'), etag: '3' });
    const ttl = await raw.ttl(k);
    expect(ttl).toBeGreaterThan(490);
    expect(ttl).toBeLessThanOrEqual(500);
    expect(await raw.hget(k, 'version')).toBe('4');
  });

  it('writes the bytes daprd does for its ETag rules: version 1 on a missing key saved with an etag, the first-write marker', async () => {
    const [created, marked] = [key('etag-create'), key('fw-marker')];
    await store.set({ key: created, value: Buffer.from('x'), etag: '42' });
    expect(await raw.hgetall(created)).toEqual({ data: 'x', version: '1' });
    await store.set({ key: marked, value: Buffer.from('m'), options: { concurrency: 'first-write' } });
    expect(await raw.hgetall(marked)).toEqual({ data: 'm', version: '1', 'first-write': '0' });
    // A key daprd marked refuses a save without its etag; the etag still works, and is read as a Go int.
    const daprd = key('fw-daprd');
    await raw.hset(daprd, 'data', '1', 'version', 7, 'first-write', 0);
    await expect(store.set({ key: daprd, value: Buffer.from('2') })).rejects.toBeInstanceOf(ETagMismatchError);
    await store.set({ key: daprd, value: Buffer.from('3'), etag: '007' });
    expect(await raw.hgetall(daprd)).toEqual({ data: '3', version: '8', 'first-write': '0' });
  });

  it('applies the ttlInSeconds metadata as the default TTL, and -1 overrides it', async () => {
    const withDefault = await openStore({ ...metadata(), ttlInSeconds: '50' });
    try {
      const k = key('default-ttl');
      const never = key('default-ttl-never');
      await withDefault.set({ key: k, value: Buffer.from('x') });
      await withDefault.set({ key: never, value: Buffer.from('x'), ttlInSeconds: -1 });
      expect(await raw.pttl(k)).toBeGreaterThan(40_000);
      expect(await raw.pttl(never)).toBe(-1);
    } finally {
      await withDefault.close();
    }
  });

  it('rejects an etag that is not a decimal version with ETagInvalidError', async () => {
    await expect(store.set({ key: key('bad'), value: Buffer.from('x'), etag: '1.5' })).rejects.toBeInstanceOf(ETagInvalidError);
  });

  it('fails init against a closed port within 5 s, naming the address', async () => {
    const started = Date.now();
    await expect(openStore({ redisHost: '127.0.0.1:1' })).rejects.toThrow(/redis at 127\.0\.0\.1:1 is unreachable: /);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('fails init within dialTimeout + 1 s when the server accepts but never answers', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const started = Date.now();
      await expect(openStore({ redisHost: `127.0.0.1:${port}`, dialTimeout: '300ms' })).rejects.toThrow(
        `redis at 127.0.0.1:${port} is unreachable: no answer within 1300 ms`,
      );
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("reads a bare dialTimeout as milliseconds, as pubsub.redis does (Dapr's Redis settings)", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const md = { redisHost: `127.0.0.1:${port}`, dialTimeout: '300' };
    try {
      const pubsub = redisPubSubFactory.create();
      const pubsubInit = componentInit({
        name: 'pubsub',
        type: 'pubsub.redis',
        appId: 'app',
        metadata: md,
        clock: new SystemClock(),
        logger: noopLogger,
        source: '(test)',
      });
      for (const open of [() => openStore(md), () => pubsub.init(pubsubInit)]) {
        const started = Date.now();
        await expect(open()).rejects.toThrow(`redis at 127.0.0.1:${port} is unreachable: no answer within 1300 ms`);
        expect(Date.now() - started).toBeLessThan(3000);
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('requires redisHost', async () => {
    await expect(openStore({})).rejects.toBeInstanceOf(ConfigError);
    await expect(openStore({})).rejects.toThrow(/redisHost is required/);
  });
});
