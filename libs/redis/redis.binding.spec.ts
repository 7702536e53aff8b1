import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { ConfigError } from '../../src/errors/config.errors';
import { BackendError, SidekickError } from '../../src/errors/sidekick.error';
import { SystemClock } from '../../src/runtime/time/system.clock';
import type { ComponentMetadata } from '../../src/spi/component';
import { noopLogger } from '../../test/support/logger';
import { rawRedis, redisHostPort, redisUrl, requireRedis } from '../../test/support/services';
import { type RedisBinding, redisBindingFactory } from './redis.binding';
import { componentInit } from '../../src/spi/metadata-reader';

function metadata(): Record<string, string> {
  const url = new URL(redisUrl());
  const md: Record<string, string> = { redisHost: redisHostPort() };
  if (url.password) md['redisPassword'] = decodeURIComponent(url.password);
  if (url.username) md['redisUsername'] = decodeURIComponent(url.username);
  if (url.pathname.length > 1) md['redisDB'] = url.pathname.slice(1);
  return md;
}

async function openBinding(md: ComponentMetadata = metadata()): Promise<RedisBinding> {
  const binding = redisBindingFactory.create();
  await binding.init(
    componentInit({
      name: 'cache',
      type: 'bindings.redis',
      appId: 'app',
      metadata: md,
      clock: new SystemClock(),
      logger: noopLogger,
      source: 'components/cache.yaml',
    }),
  );
  return binding;
}

describe('bindings.redis', () => {
  const run = randomUUID().slice(0, 8);
  const written: string[] = [];
  let binding: RedisBinding;
  let raw: Redis;
  const key = (name: string): string => {
    const full = `sk-binding-${run}-${name}`;
    written.push(full);
    return full;
  };
  const call = (operation: string, metadata: Record<string, string>, data = Buffer.alloc(0)) => binding.invoke({ operation, data, metadata });

  beforeAll(async () => {
    await requireRedis();
    binding = await openBinding();
    raw = rawRedis();
    await raw.connect();
  });

  afterAll(async () => {
    if (raw) {
      if (written.length > 0) await raw.del(...written);
      await raw.quit();
    }
    await binding?.close();
  });

  it('create stores the bytes exactly (SET), get returns them', async () => {
    const k = key('bytes');
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x22, 0x0a]);
    expect(await call('create', { key: k }, bytes)).toEqual({});
    expect(await raw.type(k)).toBe('string');
    expect(await raw.getBuffer(k)).toEqual(bytes);
    expect(await raw.ttl(k)).toBe(-1);
    expect((await call('get', { key: k })).data).toEqual(bytes);
  });

  it('create applies ttlInSeconds as EX', async () => {
    const k = key('ttl');
    await call('create', { key: k, ttlInSeconds: '100' }, Buffer.from('x'));
    const ttl = await raw.ttl(k);
    expect(ttl).toBeGreaterThan(95);
    expect(ttl).toBeLessThanOrEqual(100);
    await expect(call('create', { key: k, ttlInSeconds: 'soon' }, Buffer.from('x'))).rejects.toThrow('ttlInSeconds "soon" is not a whole number of seconds');
  });

  it('get of a missing key is an empty response; delete removes the key', async () => {
    const k = key('gone');
    expect(await call('get', { key: k })).toEqual({});
    await call('create', { key: k }, Buffer.from('here'));
    expect(await call('delete', { key: k })).toEqual({});
    expect(await raw.exists(k)).toBe(0);
    expect(await call('delete', { key: k })).toEqual({}); // deleting twice is fine
  });

  it('increment INCRs and returns the new value, with an optional TTL', async () => {
    const k = key('counter');
    expect((await call('increment', { key: k })).data?.toString()).toBe('1');
    expect((await call('increment', { key: k })).data?.toString()).toBe('2');
    expect(await raw.ttl(k)).toBe(-1);
    expect((await call('increment', { key: k, ttlInSeconds: '60' })).data?.toString()).toBe('3');
    expect(await raw.ttl(k)).toBeGreaterThan(55);
    const text = key('text');
    await raw.set(text, 'abc');
    await expect(call('increment', { key: text })).rejects.toThrow(/redis at .*: ERR value is not an integer/);
  });

  it('requires metadata key on every operation', async () => {
    for (const operation of ['create', 'get', 'delete', 'increment']) {
      const err: unknown = await call(operation, {}, Buffer.from('x')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SidekickError);
      expect((err as SidekickError).code).toBe('ERR_INVOKE_OUTPUT_BINDING');
      expect((err as Error).message).toBe(`redis binding cache: metadata key is required for ${operation} (the Redis key to use)`);
    }
  });

  it('fails init naming the address when Redis is unreachable', async () => {
    const err: unknown = await openBinding({ redisHost: '127.0.0.1:1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toMatch(/^redis at 127\.0\.0\.1:1 is unreachable: .*ECONNREFUSED/);
  });

  it('rejects bad connection metadata with a ConfigError naming the field', async () => {
    const cases: [ComponentMetadata, RegExp][] = [
      [{}, /spec\.metadata\.redisHost: redisHost is required/],
      [{ redisHost: 'localhost' }, /spec\.metadata\.redisHost: "localhost" is not host:port/],
      [{ redisHost: redisHostPort(), redisDB: 'one' }, /spec\.metadata\.redisDB/],
      [{ redisHost: redisHostPort(), enableTLS: 'maybe' }, /spec\.metadata\.enableTLS/],
    ];
    for (const [md, message] of cases) {
      const err: unknown = await openBinding(md).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).toContain('components/cache.yaml: component "cache"');
    }
  });
});
