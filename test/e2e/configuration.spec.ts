import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Body, Controller, HttpCode, Injectable, Param, Post } from '@nestjs/common';
import { Client } from 'pg';
import { type ConfigurationChange, ConfigError, OnConfigurationChange, SidekickClient } from '../../src';
import type { MemoryConfigurationStore } from '../../libs/memory/memory.configuration-store';
import { configurationTableSql } from '../../libs/postgres/postgres.configuration-store';
import type { CallInfo } from '../../src/spi/interceptor';
import { inspect, startApp, type TestApp } from '../support/app';
import { Collector, eventually } from '../support/collector';
import { postgresUrl, rawRedis, redisHostPort, requirePostgres, requireRedis } from '../support/services';

/**
 * The configuration building block end to end: daprd's HTTP API (codes and bodies), the app callback
 * of HTTP subscriptions, @OnConfigurationChange handlers fed by redis-cli and psql, SidekickClient.
 */

const run = randomUUID().slice(0, 8);
const redisKey = (name: string): string => `cfge_${run}_${name}`;
const table = `cfge_${run}`;
const exec = promisify(execFile);

interface Received {
  readonly line: string;
  readonly at: number;
}

const redisSeen = new Collector<Received>();
const pgSeen = new Collector<Received>();
const flagsSeen = new Collector<ConfigurationChange>();
const callbacks = new Collector<{ path: string; body: unknown }>();
const deliveries: CallInfo[] = [];

function lines(change: ConfigurationChange): string[] {
  return Object.entries(change.items).map(([k, item]) => (change.deleted.includes(k) ? `${k} deleted` : `${k}=${item.value}@${item.version}`));
}

@Injectable()
class Watchers {
  @OnConfigurationChange({ store: 'redisconfig', keys: [redisKey('flag')] })
  onRedis(change: ConfigurationChange): void {
    for (const line of lines(change)) redisSeen.push({ line, at: Date.now() });
  }

  @OnConfigurationChange({ store: 'pgconfig', keys: ['feature'] })
  onPostgres(change: ConfigurationChange): void {
    for (const line of lines(change)) pgSeen.push({ line, at: Date.now() });
  }

  @OnConfigurationChange({ store: 'flags' })
  onFlags(change: ConfigurationChange): void {
    flagsSeen.push(change);
  }
}

/** daprd's app callback for HTTP subscriptions. */
@Controller()
class ConfigurationCallback {
  @Post('configuration/:store/:key')
  @HttpCode(200)
  update(@Param('store') store: string, @Param('key') key: string, @Body() body: unknown): void {
    callbacks.push({ path: `${store}/${key}`, body });
  }
}

describe('configuration API', () => {
  let t: TestApp;
  let sql: Client;
  let flags: MemoryConfigurationStore;

  beforeAll(async () => {
    await requireRedis();
    await requirePostgres();
    sql = new Client({ connectionString: postgresUrl() });
    await sql.connect();
    await sql.query(configurationTableSql(table, table));
    t = await startApp(
      {
        appId: 'configapp',
        components: [
          { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
          { metadata: { name: 'flags' }, spec: { type: 'configuration.in-memory', version: 'v1' } },
          {
            metadata: { name: 'redisconfig' },
            spec: { type: 'configuration.redis', version: 'v1', metadata: [{ name: 'redisHost', value: redisHostPort() }] },
          },
          {
            metadata: { name: 'pgconfig' },
            spec: {
              type: 'configuration.postgresql',
              version: 'v1',
              metadata: [
                { name: 'connectionString', value: postgresUrl() },
                { name: 'table', value: table },
                { name: 'pgNotifyChannel', value: table },
              ],
            },
          },
        ],
        interceptors: [{ name: 'record', kinds: ['delivery'], intercept: (call, next) => (deliveries.push(call), next()) }],
      },
      { providers: [Watchers], controllers: [ConfigurationCallback] },
    );
    flags = inspect(t).component<MemoryConfigurationStore>('flags') as MemoryConfigurationStore;
  }, 30_000);

  afterAll(async () => {
    await t?.close();
    const redis = rawRedis();
    await redis.connect();
    const keys = await redis.keys(`cfge_${run}_*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await sql?.query(`DROP TABLE IF EXISTS ${table}; DROP FUNCTION IF EXISTS ${table}_notify()`);
    await sql?.end();
  });

  const api = (path: string): Promise<Response> => fetch(`${t.apiUrl}${path}`);

  it('GET /v1.0/configuration/{store}?key=a&key=b answers daprd-shaped items, under /v1.0-alpha1 too', async () => {
    flags.set('a', 'on', '3', { owner: 'web' });
    flags.set('b', 'off', '');
    for (const prefix of ['/v1.0', '/v1.0-alpha1']) {
      const res = await api(`${prefix}/configuration/flags?key=a&key=b&key=missing`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      // Go's omitempty: no version when empty, no metadata when none.
      expect(await res.json()).toEqual({ a: { value: 'on', version: '3', metadata: { owner: 'web' } }, b: { value: 'off' } });
    }
  });

  it('without a key parameter every item is returned, as daprd', async () => {
    const res = await api('/v1.0/configuration/flags');
    expect(res.status).toBe(200);
    expect(Object.keys((await res.json()) as object)).toEqual(expect.arrayContaining(['a', 'b']));
  });

  it('no matching item is a 204 with an empty body', async () => {
    const res = await api('/v1.0/configuration/flags?key=nothing-here');
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('an unknown store, or a component of another kind, is 400 ERR_CONFIGURATION_STORE_NOT_FOUND', async () => {
    for (const path of [
      '/v1.0/configuration/nope?key=a',
      '/v1.0/configuration/statestore?key=a',
      '/v1.0/configuration/nope/subscribe',
      '/v1.0-alpha1/configuration/nope/x/unsubscribe',
    ]) {
      const res = await api(path);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { errorCode: string; message: string };
      expect(body.errorCode).toBe('ERR_CONFIGURATION_STORE_NOT_FOUND');
      expect(body.message).toMatch(/^configuration store (nope|statestore) not found \(configured configuration stores: flags, redisconfig, pgconfig\)$/);
    }
  });

  it('metadata.* query parameters and missing keys are no error (204)', async () => {
    expect((await api('/v1.0/configuration/pgconfig?key=a&metadata.x=1')).status).toBe(204);
    expect((await api(`/v1.0/configuration/redisconfig?key=${redisKey('missing')}`)).status).toBe(204);
  });

  it('subscribe answers {id}; changes are POSTed to the app at /configuration/{store}/{key} with {id, items}; unsubscribe answers {ok:true}', async () => {
    const res = await api('/v1.0/configuration/flags/subscribe?key=sub1');
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const meta = (await (await api('/v1.0/metadata')).json()) as { configurationSubscriptions: { id: string; store: string; origin: string }[] };
    expect(meta.configurationSubscriptions).toEqual(expect.arrayContaining([{ id, store: 'flags', keys: ['sub1'], origin: 'http' }]));
    flags.set('sub1', 'v', '1');
    flags.delete('sub1');
    await callbacks.waitFor(2);
    expect(callbacks.items).toEqual([
      { path: 'flags/sub1', body: { id, items: { sub1: { value: 'v', version: '1' } } } },
      { path: 'flags/sub1', body: { id, items: { sub1: {} } } },
    ]);
    const un = await api(`/v1.0/configuration/flags/${id}/unsubscribe`);
    expect(un.status).toBe(200);
    expect(await un.json()).toEqual({ ok: true });
    flags.set('sub1', 'after', '2');
    await new Promise((r) => setTimeout(r, 200));
    expect(callbacks.items).toHaveLength(2);
    // daprd answers a failed unsubscribe with {ok:false, message}, status 500.
    const again = await api(`/v1.0/configuration/flags/${id}/unsubscribe`);
    expect(again.status).toBe(500);
    expect(await again.json()).toEqual({
      ok: false,
      message: `failed to unsubscribe to configuration request ${id}: subscription with id ${id} does not exist`,
    });
  });

  it('a subscription id is unsubscribed only through its own store', async () => {
    const { id } = (await (await api('/v1.0-alpha1/configuration/flags/subscribe')).json()) as { id: string };
    const wrongStore = await api(`/v1.0/configuration/redisconfig/${id}/unsubscribe`);
    expect(wrongStore.status).toBe(500);
    expect(((await wrongStore.json()) as { ok: boolean }).ok).toBe(false);
    expect((await api(`/v1.0/configuration/flags/${id}/unsubscribe`)).status).toBe(200);
  });

  it('a change written with redis-cli reaches @OnConfigurationChange within 1 s, in order', async () => {
    const [host, port] = redisHostPort().split(':') as [string, string];
    const key = redisKey('flag');
    const writes: [string[], string][] = [
      [['SET', key, 'on||1'], `${key}=on@1`],
      [['SET', key, 'off||2'], `${key}=off@2`],
      [['DEL', key], `${key} deleted`],
    ];
    const latencies: number[] = [];
    for (const [i, [args, expected]] of writes.entries()) {
      // From before redis-cli starts: an upper bound (it includes starting the redis-cli process).
      const written = Date.now();
      await exec('redis-cli', ['-h', host, '-p', port, ...args]);
      await redisSeen.waitFor(i + 1, 5000);
      const got = redisSeen.items[i];
      expect(got?.line).toBe(expected);
      latencies.push((got?.at ?? Infinity) - written);
    }
    for (const ms of latencies) expect(ms).toBeLessThan(1000);
    expect(redisSeen.items.map((r) => r.line)).toEqual(writes.map(([, line]) => line));
    process.stdout.write(`redis-cli start -> @OnConfigurationChange: ${latencies.join(', ')} ms\n`);
  });

  it('a change written with psql reaches @OnConfigurationChange within 1 s, in order', async () => {
    const url = postgresUrl();
    const writes: [string, string][] = [
      [`INSERT INTO ${table} (key, value, version) VALUES ('feature', 'beta', '1')`, 'feature=beta@1'],
      [`UPDATE ${table} SET value = 'ga', version = '2' WHERE key = 'feature'`, 'feature=ga@2'],
      [`DELETE FROM ${table} WHERE key = 'feature'`, 'feature deleted'],
    ];
    const latencies: number[] = [];
    for (const [i, [statement, expected]] of writes.entries()) {
      const written = Date.now();
      await exec('psql', [url, '-v', 'ON_ERROR_STOP=1', '-q', '-c', statement]);
      await pgSeen.waitFor(i + 1, 5000);
      expect(pgSeen.items[i]?.line).toBe(expected);
      latencies.push((pgSeen.items[i]?.at ?? Infinity) - written);
    }
    for (const ms of latencies) expect(ms).toBeLessThan(1000);
    process.stdout.write(`psql start -> @OnConfigurationChange: ${latencies.join(', ')} ms\n`);
  });

  it('handler deliveries run through the delivery interceptors', async () => {
    flags.set('intercepted', 'x', '1');
    await eventually(() => deliveries.some((c) => c.type === 'configuration' && c.operation === 'Watchers.onFlags'), 5000, 'an intercepted delivery');
    const call = deliveries.find((c) => c.operation === 'Watchers.onFlags');
    expect(call).toMatchObject({ kind: 'delivery', target: 'flags', type: 'configuration' });
    await eventually(() => flagsSeen.items.some((c) => 'intercepted' in c.items));
  });

  it('SidekickClient.configuration.get and subscribe (an async iterator; break unsubscribes)', async () => {
    const client = t.app.get(SidekickClient);
    flags.set('c1', 'one', '1');
    expect(await client.configuration.get('flags', ['c1'])).toEqual({ c1: { value: 'one', version: '1', metadata: {} } });
    const sub = await client.configuration.subscribe('flags', ['c1']);
    expect(sub.id).toMatch(/^[0-9a-f-]{36}$/);
    flags.set('c1', 'two', '2');
    flags.delete('c1');
    const got: string[] = [];
    for await (const change of sub) {
      got.push(...lines(change));
      if (got.length === 2) break;
    }
    expect(got).toEqual(['c1=two@2', 'c1 deleted']);
    const meta = (await (await api('/v1.0/metadata')).json()) as { configurationSubscriptions: { id: string }[] };
    expect(meta.configurationSubscriptions.map((s) => s.id)).not.toContain(sub.id);
    await expect(client.configuration.get('statestore', ['x'])).rejects.toMatchObject({ code: 'ERR_CONFIGURATION_STORE_NOT_FOUND' });
  });

  it('/v1.0/metadata lists the @OnConfigurationChange subscriptions', async () => {
    const meta = (await (await api('/v1.0/metadata')).json()) as { configurationSubscriptions: { store: string; keys: string[]; origin: string }[] };
    expect(meta.configurationSubscriptions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ store: 'redisconfig', keys: [redisKey('flag')], origin: 'handler Watchers.onRedis' }),
        expect.objectContaining({ store: 'pgconfig', keys: ['feature'], origin: 'handler Watchers.onPostgres' }),
        expect.objectContaining({ store: 'flags', keys: [], origin: 'handler Watchers.onFlags' }),
      ]),
    );
  });
});

describe('configuration API without configuration stores', () => {
  it('answers 500 ERR_CONFIGURATION_STORE_NOT_CONFIGURED, as daprd', async () => {
    const t = await startApp({ appId: 'noconfig' });
    try {
      const res = await fetch(`${t.apiUrl}/v1.0/configuration/any?key=a`);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ errorCode: 'ERR_CONFIGURATION_STORE_NOT_CONFIGURED', message: 'configuration stores not configured' });
    } finally {
      await t.close();
    }
  });

  it('an @OnConfigurationChange naming no configuration store fails start-up naming it', async () => {
    @Injectable()
    class Lost {
      @OnConfigurationChange({ store: 'statestore', keys: ['x'] })
      on(): void {}
    }
    const err = await startApp({ appId: 'lost' }, { providers: [Lost] }).then(
      async (t) => {
        await t.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      'component "statestore": @OnConfigurationChange({ store: "statestore" }) on Lost.on names no loaded configuration store; configuration stores: none',
    );
  });

  it('the decorator refuses bad options at once', () => {
    expect(() => OnConfigurationChange({ store: '' })).toThrow(/needs the configuration store component name/);
    expect(() => OnConfigurationChange({ store: 's', keys: 'a' as unknown as string[] })).toThrow(/keys must be an array of strings/);
  });
});
