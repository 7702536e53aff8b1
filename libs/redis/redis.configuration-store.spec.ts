import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { SystemClock } from '../../src/runtime/time/system.clock';
import type { ComponentMetadata } from '../../src/spi/component';
import { componentInit } from '../../src/spi/metadata-reader';
import { Collector } from '../../test/support/collector';
import { noopLogger } from '../../test/support/logger';
import { rawRedis, redisHostPort, redisUrl, requireRedis } from '../../test/support/services';
import { describeConfigurationConformance } from '../conformance/configuration.conformance';
import { parseRedisItem, type RedisConfigurationStore, redisConfigurationStoreFactory } from './redis.configuration-store';

function metadata(): Record<string, string> {
  const url = new URL(redisUrl());
  const md: Record<string, string> = { redisHost: redisHostPort() };
  if (url.password) md.redisPassword = decodeURIComponent(url.password);
  if (url.pathname.length > 1) md.redisDB = url.pathname.slice(1);
  return md;
}

async function openStore(md: ComponentMetadata = metadata()): Promise<RedisConfigurationStore> {
  const store = redisConfigurationStoreFactory.create();
  await store.init(
    componentInit({ name: 'rcfg', type: 'configuration.redis', appId: 'app', metadata: md, clock: new SystemClock(), logger: noopLogger, source: '(test)' }),
  );
  return store;
}

describeConfigurationConformance('configuration.redis', {
  supportsItemMetadata: false, // a Redis string holds value||version only
  deliversEveryWrite: false, // each notification re-reads the key (as daprd does): a burst may collapse
  async create() {
    await requireRedis();
    const store = await openStore();
    const raw = rawRedis();
    await raw.connect();
    return {
      store,
      writer: {
        set: async (key, value, version) => void (await raw.set(key, `${value}||${version}`)),
        delete: async (key) => void (await raw.del(key)),
      },
      cleanup: async () => {
        await store.close();
        await raw.quit();
      },
    };
  },
});

describe('configuration.redis: daprd layout and Redis specifics', () => {
  const run = randomUUID().slice(0, 8);
  let store: RedisConfigurationStore;
  let raw: Redis;
  const key = (name: string): string => `cfgr_${run}_${name}`;

  beforeAll(async () => {
    await requireRedis();
    store = await openStore();
    raw = rawRedis();
    await raw.connect();
  });

  afterAll(async () => {
    const keys = await raw.keys(`cfgr_${run}_*`);
    if (keys.length > 0) await raw.del(...keys);
    await store?.close();
    await raw?.quit();
  });

  it('splits value||version as daprd does', () => {
    expect(parseRedisItem('on||3')).toEqual({ value: 'on', version: '3', metadata: {} });
    expect(parseRedisItem('plain')).toEqual({ value: 'plain', version: '', metadata: {} });
    expect(parseRedisItem('a||b||c')).toEqual({ value: 'a', version: 'b', metadata: {} });
  });

  it('skips keys that are not strings and strings with an empty value, as daprd', async () => {
    await raw.hset(key('hash'), 'data', 'x');
    await raw.set(key('empty'), '||4');
    await raw.set(key('novers'), 'hello');
    const items = await store.get([key('hash'), key('empty'), key('novers')]);
    expect(items).toEqual({ [key('novers')]: { value: 'hello', version: '', metadata: {} } });
  });

  it('subscribing turns keyspace notifications on (Kg$xe added to what the server had)', async () => {
    const stop = await store.subscribe([key('notify')], () => undefined);
    const [, flags] = (await raw.config('GET', 'notify-keyspace-events')) as unknown as [string, string];
    const have = flags.replace('A', 'g$lshzxetd');
    for (const flag of 'Kg$xe') expect(have).toContain(flag);
    await stop();
  });

  it('an expiring key is delivered as a deletion', async () => {
    const seen = new Collector<string>();
    const k = key('ttl');
    const stop = await store.subscribe([k], (u) => seen.push(u.deleted.includes(k) ? 'deleted' : `${u.items[k]?.value}`));
    try {
      await raw.set(k, 'short||1', 'PX', 150);
      await seen.waitFor(2, 5000);
      expect(seen.items).toEqual(['short', 'deleted']);
    } finally {
      await stop();
    }
  });

  it('a missing redisHost fails naming the field', async () => {
    await expect(openStore({})).rejects.toThrow(/redisHost is required/);
  });
});
