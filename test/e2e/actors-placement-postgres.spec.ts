import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { AbstractActor, Actor, type InlineComponent, SidekickClient } from '../../src';
import { startApp, type TestApp } from '../support/app';
import { postgresUrl, requirePostgres } from '../support/services';

const suffix = randomBytes(3).toString('hex');
const TABLE = `actors_placement_${suffix}`;

@Actor({ type: 'Tally' })
class Tally extends AbstractActor {
  async add(n: number): Promise<number> {
    const total = ((await this.state.get<number>('total')) ?? 0) + n;
    await new Promise((r) => setImmediate(r));
    await this.state.set('total', total);
    return total;
  }
}

function postgresStore(): InlineComponent {
  return {
    metadata: { name: 'actorstore' },
    spec: {
      type: 'state.postgresql',
      version: 'v1',
      metadata: [
        { name: 'connectionString', value: postgresUrl() },
        { name: 'tableName', value: TABLE },
        { name: 'actorStateStore', value: 'true' },
      ],
    },
  };
}

async function members(t: TestApp): Promise<number> {
  const meta = (await (await fetch(`${t.apiUrl}/v1.0/metadata`)).json()) as { actorRuntime?: { placement?: string } };
  return Number(/(\d+) live/.exec(meta.actorRuntime?.placement ?? '')?.[1] ?? 0);
}

describe('actor placement on PostgreSQL (two instances of one app id in one process)', () => {
  let one: TestApp;
  let two: TestApp;

  beforeAll(async () => {
    await requirePostgres();
    const options = { appId: `pgplace${suffix}`, components: [postgresStore()], actors: { placement: { enabled: true, leaseMs: 1500 } } };
    one = await startApp(options, { providers: [Tally] });
    two = await startApp(options, { providers: [Tally] });
    const deadline = Date.now() + 15_000;
    while ((await members(one)) !== 2 || (await members(two)) !== 2) {
      if (Date.now() > deadline) throw new Error('the two instances did not see each other');
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);

  afterAll(async () => {
    await one?.close();
    await two?.close();
    const pg = new Client({ connectionString: postgresUrl() });
    await pg.connect();
    await pg.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await pg.end();
  });

  it('concurrent calls for one id through both instances run one at a time in its owner: exact total', async () => {
    const clients = [one, two].map((t) => t.app.get(SidekickClient));
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (clients[i % 2] as SidekickClient).actors.proxy(Tally, 'shared').add(1)));
    expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(await (clients[0] as SidekickClient).actors.proxy(Tally, 'shared').add(0)).toBe(100);
  }, 60_000);

  it('ids spread over both; when one instance leaves, its actors answer from the other with their state', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `t-${i}`);
    const c1 = one.app.get(SidekickClient);
    for (const id of ids) await c1.actors.proxy(Tally, id).add(5);
    const meta = await Promise.all(
      [one, two].map(async (t) => ((await (await fetch(`${t.apiUrl}/v1.0/metadata`)).json()) as { actors?: { count: number }[] }).actors?.[0]?.count ?? 0),
    );
    expect(meta[0]).toBeGreaterThan(0);
    expect(meta[1]).toBeGreaterThan(0);
    await one.close();
    const c2 = two.app.get(SidekickClient);
    const totals = await Promise.all(ids.map((id) => c2.actors.proxy(Tally, id).add(1)));
    expect(totals.every((n) => n === 6)).toBe(true);
  }, 60_000);
});
