import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { AbstractActor, Actor, type InlineComponent, SidekickClient } from '../../src';
import { startApp, type TestApp } from '../support/app';
import { postgresUrl, rawRedis, redisHostPort, requirePostgres, requireRedis } from '../support/services';

/**
 * 1,000 concurrent increments of one actor on the real stores (Redis, PostgreSQL), with placement on
 * and two instances of one app id calling it: every turn runs in its one owner, one at a time.
 */
const suffix = randomBytes(3).toString('hex');
const turns: ('start' | 'end')[] = [];

@Actor({ type: 'Hits' })
class Hits extends AbstractActor {
  async increment(): Promise<number> {
    turns.push('start'); // both instances run in this process: one log of every turn of the actor
    const n = ((await this.state.get<number>('n')) ?? 0) + 1;
    await new Promise((resolve) => setImmediate(resolve)); // yield inside the turn: another turn would interleave here
    await this.state.set('n', n);
    turns.push('end');
    return n;
  }
}

const stores: [string, () => Promise<void>, () => InlineComponent, (appId: string) => Promise<string | undefined>, (appId: string) => Promise<void>][] = [
  [
    'Redis',
    requireRedis,
    () => ({
      metadata: { name: 'actorstore' },
      spec: {
        type: 'state.redis',
        version: 'v1',
        metadata: [
          { name: 'redisHost', value: redisHostPort() },
          { name: 'actorStateStore', value: 'true' },
        ],
      },
    }),
    async (appId) => {
      const redis = rawRedis();
      await redis.connect();
      try {
        return (await redis.hget(`${appId}||Hits||hot||n`, 'data')) ?? undefined;
      } finally {
        await redis.quit();
      }
    },
    async (appId) => {
      const redis = rawRedis();
      await redis.connect();
      for (const pattern of [`${appId}||*`, `actors||${appId}||*`]) {
        const keys = await redis.keys(pattern);
        if (keys.length > 0) await redis.del(...keys);
      }
      await redis.quit();
    },
  ],
  [
    'PostgreSQL',
    requirePostgres,
    () => ({
      metadata: { name: 'actorstore' },
      spec: {
        type: 'state.postgresql',
        version: 'v1',
        metadata: [
          { name: 'connectionString', value: postgresUrl() },
          { name: 'tableName', value: `actors_hits_${suffix}` },
          { name: 'actorStateStore', value: 'true' },
        ],
      },
    }),
    async (appId) => {
      const pg = new Client({ connectionString: postgresUrl() });
      await pg.connect();
      try {
        const rows = await pg.query<{ value: Buffer }>(`SELECT value FROM actors_hits_${suffix} WHERE key = $1`, [`${appId}||Hits||hot||n`]);
        return rows.rows[0]?.value.toString('utf8');
      } finally {
        await pg.end();
      }
    },
    async () => {
      const pg = new Client({ connectionString: postgresUrl() });
      await pg.connect();
      await pg.query(`DROP TABLE IF EXISTS actors_hits_${suffix}`);
      await pg.end();
    },
  ],
];

describe.each(stores)('1,000 concurrent increments of one actor on %s, placement on, two instances', (name, requireStore, component, storedValue, cleanup) => {
  const appId = `hits${name.toLowerCase()}${suffix}`;
  let one: TestApp;
  let two: TestApp;

  beforeAll(async () => {
    await requireStore();
    const options = { appId, components: [component()], actors: { placement: { enabled: true, leaseMs: 3000 } } };
    one = await startApp(options, { providers: [Hits] });
    two = await startApp(options, { providers: [Hits] });
    const members = async (t: TestApp): Promise<number> => {
      const meta = (await (await fetch(`${t.apiUrl}/v1.0/metadata`)).json()) as { actorRuntime?: { placement?: string } };
      return Number(/(\d+) live/.exec(meta.actorRuntime?.placement ?? '')?.[1] ?? 0);
    };
    const deadline = Date.now() + 15_000;
    while ((await members(one)) !== 2 || (await members(two)) !== 2) {
      if (Date.now() > deadline) throw new Error('the two instances did not see each other');
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);

  afterAll(async () => {
    await one?.close();
    await two?.close();
    await cleanup(appId);
  });

  it('exact count, each value returned once, no overlapping turns (recorded), the final value in the store', async () => {
    turns.length = 0;
    const clients = [one, two].map((t) => t.app.get(SidekickClient));
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => (clients[i % 2] as SidekickClient).actors.proxy(Hits, 'hot').increment()));
    expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    let open = 0;
    let maxOpen = 0;
    for (const turn of turns) {
      open += turn === 'start' ? 1 : -1;
      maxOpen = Math.max(maxOpen, open);
    }
    expect(turns).toHaveLength(2000);
    expect(maxOpen).toBe(1);
    expect(await storedValue(appId)).toBe('1000');
  }, 60_000);
});
