import { Injectable } from '@nestjs/common';
import { AbstractActor, Actor, SidekickClient, VirtualClock } from '../../src';
import type { StateStore } from '../../src/spi';
import { inspect, startApp, type TestApp } from '../support/app';
import { eventually } from '../support/collector';

/** An ordinary Nest provider the actors get injected. */
@Injectable()
class Audit {
  readonly lines: string[] = [];
  record(line: string): void {
    this.lines.push(line);
  }
}

/** Records every turn's start and end, to prove turns never overlap. */
const turns: { id: string; event: 'start' | 'end' }[] = [];
const lifecycle: string[] = [];

@Actor({ type: 'BankAccount', idleTimeout: '10m' })
class BankAccount extends AbstractActor {
  constructor(private readonly audit: Audit) {
    super();
  }

  override async onActivate(): Promise<void> {
    lifecycle.push(`activate ${this.actorId}`);
  }

  override async onDeactivate(): Promise<void> {
    lifecycle.push(`deactivate ${this.actorId}`);
  }

  async deposit(amount: number): Promise<number> {
    const balance = (await this.state.getOrAdd('balance', 0)) + amount;
    await this.state.set('balance', balance);
    this.audit.record(`${this.actorId} +${amount}`);
    return balance;
  }

  async withdraw(amount: number): Promise<number> {
    const balance = (await this.state.get<number>('balance')) ?? 0;
    if (amount > balance) throw new Error(`insufficient funds: balance ${balance}, asked ${amount}`);
    await this.state.set('balance', balance - amount);
    return balance - amount;
  }

  async balance(): Promise<number> {
    return (await this.state.get<number>('balance')) ?? 0;
  }

  async close(): Promise<boolean> {
    return this.state.remove('balance');
  }

  /** Sets two keys then fails: neither may be saved. */
  async failHalfway(): Promise<void> {
    await this.state.set('balance', 1_000_000);
    await this.state.set('other', 'x');
    throw new Error('failed after setting state');
  }
}

@Actor({ type: 'Counter' })
class Counter extends AbstractActor {
  async increment(): Promise<number> {
    turns.push({ id: this.actorId, event: 'start' });
    const n = ((await this.state.get<number>('n')) ?? 0) + 1;
    await new Promise((resolve) => setImmediate(resolve)); // yield inside the turn: another turn would interleave here
    await this.state.set('n', n);
    turns.push({ id: this.actorId, event: 'end' });
    return n;
  }
}

const actorStore = {
  metadata: { name: 'actorstore' },
  spec: { type: 'state.in-memory', version: 'v1', metadata: [{ name: 'actorStateStore', value: 'true' }] },
};

describe('actors in one process', () => {
  let t: TestApp;
  let client: SidekickClient;
  const clock = new VirtualClock(Date.parse('2030-01-01T00:00:00Z'));

  beforeAll(async () => {
    t = await startApp({ appId: 'bank', clock, components: [actorStore] }, { providers: [Audit, BankAccount, Counter] });
    client = t.app.get(SidekickClient);
  });

  afterAll(async () => {
    await t?.close();
  });

  it("calls a method through the typed proxy, with Nest injection and state in Dapr's key layout", async () => {
    const account = client.actors.proxy(BankAccount, 'acc-1');
    expect(await account.deposit(10)).toBe(10);
    expect(await account.deposit(5)).toBe(15);
    expect(await account.balance()).toBe(15);
    expect(t.app.get(Audit).lines).toEqual(['acc-1 +10', 'acc-1 +5']);
    const raw = await inspect(t).component<StateStore>('actorstore')?.get('bank||BankAccount||acc-1||balance');
    expect(raw?.data.toString()).toBe('15');
    expect(lifecycle).toContain('activate acc-1');
  });

  it('keeps the error of the method for in-process callers and saves nothing of a failed turn', async () => {
    const account = client.actors.proxy(BankAccount, 'acc-fail');
    await account.deposit(3);
    await expect(account.failHalfway()).rejects.toThrow('failed after setting state');
    expect(await account.balance()).toBe(3);
    const store = inspect(t).component<StateStore>('actorstore');
    expect(await store?.get('bank||BankAccount||acc-fail||other')).toBeUndefined();
    await expect(account.withdraw(100)).rejects.toThrow('insufficient funds: balance 3, asked 100');
  });

  it('SidekickClient.actors.invoke calls by name with one argument', async () => {
    expect(await client.actors.invoke<number>('BankAccount', 'acc-2', 'deposit', 7)).toBe(7);
    await expect(client.actors.invoke('BankAccount', 'acc-2', 'nope')).rejects.toMatchObject({ code: 'ERR_ACTOR_INVOKE_METHOD' });
    await expect(client.actors.invoke('Nope', 'x', 'deposit', 1)).rejects.toThrow(
      /no actor type "Nope" is registered \(registered types: BankAccount, Counter\)/,
    );
  });

  it('runs 1,000 concurrent increments of one actor one at a time: exact count, no overlapping turns', async () => {
    turns.length = 0;
    const counter = client.actors.proxy(Counter, 'hot');
    const results = await Promise.all(Array.from({ length: 1000 }, () => counter.increment()));
    expect(await counter.increment()).toBe(1001);
    // In arrival order: call i saw count i+1.
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    let open = 0;
    let maxOpen = 0;
    for (const turn of turns) {
      open += turn.event === 'start' ? 1 : -1;
      maxOpen = Math.max(maxOpen, open);
    }
    expect(turns).toHaveLength(2002);
    expect(maxOpen).toBe(1);
  });

  it('runs different ids in parallel', async () => {
    turns.length = 0;
    await Promise.all(['p1', 'p2', 'p3'].map((id) => client.actors.proxy(Counter, id).increment()));
    const firstEnd = turns.findIndex((x) => x.event === 'end');
    expect(turns.slice(0, firstEnd).filter((x) => x.event === 'start').length).toBe(3);
  });

  it('lists active actors by type in /v1.0/metadata', async () => {
    const meta = await (await fetch(`${t.apiUrl}/v1.0/metadata`)).json();
    expect(meta.actors).toEqual(
      expect.arrayContaining([
        { type: 'BankAccount', count: expect.any(Number) },
        { type: 'Counter', count: 4 },
      ]),
    );
    expect(meta.actorRuntime).toMatchObject({ runtimeStatus: 'RUNNING', hostReady: true });
  });

  it('deactivates idle actors after their idle timeout (virtual clock) with state intact on reactivation', async () => {
    const account = client.actors.proxy(BankAccount, 'acc-idle');
    await account.deposit(42);
    lifecycle.length = 0;
    await clock.advance(5 * 60_000);
    expect(lifecycle).not.toContain('deactivate acc-idle');
    await clock.advance(6 * 60_000);
    await eventually(() => lifecycle.includes('deactivate acc-idle'), 2000, 'deactivation');
    const meta = await (await fetch(`${t.apiUrl}/v1.0/metadata`)).json();
    expect((meta.actors as { type: string; count: number }[]).find((a) => a.type === 'BankAccount')?.count ?? 0).toBe(0);
    expect(await account.balance()).toBe(42);
    expect(lifecycle).toContain('activate acc-idle');
  });
});

/** Compile-time checks of the typed proxy (`npm run typecheck` fails if any of these type-checks). Never run. */
export function proxyTypeChecks(client: SidekickClient): void {
  const account = client.actors.proxy(BankAccount, 'typed');
  const balance: Promise<number> = account.deposit(1);
  // @ts-expect-error deposit takes a number
  void account.deposit('ten');
  // @ts-expect-error no such method
  void account.steal();
  // @ts-expect-error the state manager is not an actor method
  void account.state;
  // @ts-expect-error lifecycle hooks are not callable through a proxy
  void account.onActivate();
  void balance;
}
