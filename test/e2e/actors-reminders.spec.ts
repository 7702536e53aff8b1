import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AbstractActor, Actor, type ActorScheduleOptions, type InlineComponent, SidekickClient, VirtualClock } from '../../src';
import { startApp, type TestApp, tempDir } from '../support/app';
import { eventually } from '../support/collector';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

const suffix = randomBytes(4).toString('hex');
const TYPE = `Reminded${suffix}`;
const received: { id: string; name: string; data: unknown; at: number }[] = [];
const timerFires: { id: string; at: number }[] = [];
const deactivated: string[] = [];
let clock = new VirtualClock(0);

@Actor({ type: TYPE, idleTimeout: '1m' })
class Reminded extends AbstractActor {
  async remind(name: string, options: ActorScheduleOptions): Promise<void> {
    await this.registerReminder(name, options);
  }

  async forget(name: string): Promise<void> {
    await this.unregisterReminder(name);
  }

  async reminder(name: string): Promise<unknown> {
    return (await this.getReminder(name)) ?? null;
  }

  async startTimer(period: string): Promise<void> {
    this.registerTimer('beat', 'onBeat', { dueTime: '0s', period });
  }

  async onBeat(): Promise<void> {
    timerFires.push({ id: this.actorId, at: clock.now() });
  }

  async receiveReminder(name: string, data: unknown): Promise<void> {
    received.push({ id: this.actorId, name, data, at: clock.now() });
    await this.state.set('reminded', ((await this.state.get<number>('reminded')) ?? 0) + 1);
  }

  override async onDeactivate(): Promise<void> {
    deactivated.push(this.actorId);
  }
}

const T0 = Date.parse('2030-01-01T00:00:00Z');

function start(components: InlineComponent[], at: number): Promise<TestApp> {
  clock = new VirtualClock(at);
  return startApp({ appId: `rem${suffix}`, clock, components, actors: { scanIntervalMs: 10_000 } }, { providers: [Reminded] });
}

describe('actor reminders and timers on a virtual clock', () => {
  let t: TestApp;
  let client: SidekickClient;
  const memory: InlineComponent = {
    metadata: { name: 'actorstore' },
    spec: { type: 'state.in-memory', version: 'v1', metadata: [{ name: 'actorStateStore', value: 'true' }] },
  };

  beforeAll(async () => {
    t = await start([memory], T0);
    client = t.app.get(SidekickClient);
  });

  afterAll(async () => {
    await t?.close();
  });

  beforeEach(() => {
    received.length = 0;
    timerFires.length = 0;
    deactivated.length = 0;
  });

  it('fires R3/PT10S three times with its data, then deletes it', async () => {
    const actor = client.actors.proxy(Reminded, 'r3');
    await actor.remind('thrice', { dueTime: '10s', period: 'R3/PT10S', data: { n: 1 } });
    await clock.advance(9_999);
    expect(received).toHaveLength(0);
    await clock.advance(1);
    await eventually(() => received.length === 1, 2000, 'first firing');
    expect(received[0]).toEqual({ id: 'r3', name: 'thrice', data: { n: 1 }, at: T0 + 10_000 });
    await clock.advance(10_000);
    await eventually(() => received.length === 2, 2000, 'second firing');
    await clock.advance(60_000);
    await eventually(() => received.length === 3, 2000, 'third firing');
    await clock.advance(60_000);
    expect(received).toHaveLength(3);
    expect(await actor.reminder('thrice')).toBeNull();
  });

  it('stops at its ttl, and fires at once for a dueTime already passed (RFC 3339)', async () => {
    const actor = client.actors.proxy(Reminded, 'ttl');
    const now = clock.now();
    await actor.remind('short', { dueTime: new Date(now - 5000).toISOString(), period: '10s', ttl: '25s' });
    await clock.advance(0);
    await eventually(() => received.length === 1, 2000, 'the immediate firing');
    for (let i = 0; i < 5; i++) await clock.advance(10_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(received.map((r) => r.at - now)).toEqual([0, 10_000, 20_000]);
  });

  it('unregistering stops a reminder', async () => {
    const actor = client.actors.proxy(Reminded, 'off');
    await actor.remind('x', { dueTime: '5s', period: '5s' });
    await actor.forget('x');
    await clock.advance(20_000);
    expect(received).toHaveLength(0);
  });

  it('a timer fires until the actor deactivates (timer firings do not keep it active)', async () => {
    const actor = client.actors.proxy(Reminded, 'beating');
    await actor.startTimer('5s');
    await clock.advance(0);
    for (let i = 0; i < 4; i++) await clock.advance(5_000);
    await eventually(() => timerFires.length >= 4, 2000, 'timer firings');
    // Idle timeout 1 min, scanned every 10 s: deactivated by 70 s after the last call.
    for (let i = 0; i < 10; i++) await clock.advance(10_000);
    await eventually(() => deactivated.includes('beating'), 2000, 'deactivation');
    const fired = timerFires.length;
    for (let i = 0; i < 6; i++) await clock.advance(5_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(timerFires.length).toBe(fired);
  });
});

describe.each([
  ['SQLite', (): InlineComponent[] => [sqliteStore(join(tempDir(), 'actors.db'))]],
  ['Redis', (): InlineComponent[] => [redisStore()]],
])('actor reminders survive a full app restart on %s', (_name, components) => {
  let stores: InlineComponent[];

  beforeAll(async () => {
    if (_name === 'Redis') await requireRedis();
    stores = components();
  });

  afterAll(async () => {
    if (_name !== 'Redis') return;
    const redis = rawRedis();
    await redis.connect();
    const keys = [...(await redis.keys(`actors||rem${suffix}||*`)), ...(await redis.keys(`rem${suffix}||*`))];
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('keeps reminders in the store; one missed while no instance ran fires on recovery; state intact', async () => {
    received.length = 0;
    const id = `acc-${_name}`;
    let t = await start(stores, T0);
    await t.app
      .get(SidekickClient)
      .actors.proxy(Reminded, id)
      .remind('monthly', { dueTime: '1h', period: '1h', data: { rate: 0.01 } });
    await t.app.get(SidekickClient).actors.proxy(Reminded, id).remind('later', { dueTime: '10h' });
    await t.close();
    if (_name === 'Redis') {
      // In Redis as daprd's Redis store writes it: a hash with the JSON list of the type's reminders in `data`.
      const redis = rawRedis();
      await redis.connect();
      const stored = JSON.parse((await redis.hget(`actors||rem${suffix}||${TYPE}`, 'data')) ?? '[]') as { actorId: string; name: string }[];
      await redis.quit();
      expect(stored.map((r) => `${r.actorId}/${r.name}`).sort()).toEqual([`${id}/later`, `${id}/monthly`]);
    }

    // 90 minutes later: the 1 h firing was missed while nothing ran.
    t = await start(stores, T0 + 90 * 60_000);
    try {
      await clock.advance(0);
      await eventually(() => received.length === 1, 5000, 'the missed firing');
      expect(received[0]).toMatchObject({ id, name: 'monthly', data: { rate: 0.01 }, at: T0 + 90 * 60_000 });
      await clock.advance(30 * 60_000);
      await eventually(() => received.length === 2, 5000, 'the 2 h firing');
      expect(received[1]?.at).toBe(T0 + 120 * 60_000);
      const res = await fetch(`${t.apiUrl}/v1.0/actors/${TYPE}/${id}/reminders/later`);
      expect(await res.json()).toMatchObject({ actorID: id, dueTime: '10h' });
      const state = await fetch(`${t.apiUrl}/v1.0/actors/${TYPE}/${id}/state/reminded`);
      expect(await state.text()).toBe('2');
    } finally {
      await t.close();
    }
    // And across a second restart: the firings done are not repeated.
    t = await start(stores, T0 + 150 * 60_000);
    try {
      await clock.advance(0);
      await new Promise((r) => setTimeout(r, 100));
      expect(received).toHaveLength(2);
      await clock.advance(30 * 60_000);
      await eventually(() => received.length === 3, 5000, 'the 3 h firing');
    } finally {
      await t.close();
    }
  });
});

function sqliteStore(file: string): InlineComponent {
  return {
    metadata: { name: 'actorstore' },
    spec: {
      type: 'state.sqlite',
      version: 'v1',
      metadata: [
        { name: 'connectionString', value: file },
        { name: 'actorStateStore', value: 'true' },
      ],
    },
  };
}

function redisStore(): InlineComponent {
  return {
    metadata: { name: 'actorstore' },
    spec: {
      type: 'state.redis',
      version: 'v1',
      metadata: [
        { name: 'redisHost', value: redisHostPort() },
        { name: 'actorStateStore', value: 'true' },
      ],
    },
  };
}
