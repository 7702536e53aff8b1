import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { AbstractActor, Actor, type InlineComponent, SidekickClient } from '../../src';
import { ActorsService } from '../../src/runtime/blocks/actors/actors.service';
import { startApp, type TestApp } from '../support/app';
import { postgresUrl, requirePostgres } from '../support/services';

const suffix = randomBytes(3).toString('hex');
const TABLE = `actors_placement_${suffix}`;

@Actor({ type: 'Tally' })
class Tally extends AbstractActor {
  /** A timer callback. */
  async tick(data: { by: number }): Promise<void> {
    await this.state.set('ticks', ((await this.state.get<number>('ticks')) ?? 0) + data.by);
  }

  async ticks(): Promise<number> {
    return (await this.state.get<number>('ticks')) ?? 0;
  }

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

  it('over HTTP: a timer registered on the instance that does not own the actor runs on its owner; a state transaction there is refused', async () => {
    const owns = (t: TestApp, id: string): boolean => t.runtime.service(ActorsService).owns('Tally', id);
    const id = Array.from({ length: 50 }, (_, i) => `timer-${i}`).find((x) => owns(two, x) && !owns(one, x)) ?? '';
    expect(id).not.toBe('');
    let res = await fetch(`${one.apiUrl}/v1.0/actors/Tally/${id}/timers/t`, {
      method: 'POST',
      body: JSON.stringify({ dueTime: '0s', period: '100ms', callback: 'tick', data: { by: 1 } }),
    });
    expect(res.status).toBe(204);
    const proxy = one.app.get(SidekickClient).actors.proxy(Tally, id);
    const deadline = Date.now() + 5000;
    while ((await proxy.ticks()) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await proxy.ticks()).toBeGreaterThanOrEqual(3);
    expect((await fetch(`${two.apiUrl}/v1.0/actors/Tally/${id}/timers/t`, { method: 'DELETE' })).status).toBe(204);
    res = await fetch(`${one.apiUrl}/v1.0/actors/Tally/${id}/state`, {
      method: 'POST',
      body: JSON.stringify([{ operation: 'upsert', request: { key: 'x', value: 1 } }]),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errorCode: 'ERR_ACTOR_INSTANCE_MISSING' });
    res = await fetch(`${two.apiUrl}/v1.0/actors/Tally/${id}/state`, {
      method: 'POST',
      body: JSON.stringify([{ operation: 'upsert', request: { key: 'x', value: 1 } }]),
    });
    expect(res.status).toBe(204);
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
