import { memoryStateStoreFactory } from '../../libs/memory';
import { ActorStore } from '../../src/runtime/blocks/actors/actor-store';
import { ActorPlacement } from '../../src/runtime/blocks/actors/placement';
import { chainFor, TurnLock } from '../../src/runtime/blocks/actors/turns';
import { componentInit } from '../../src/spi/metadata-reader';
import type { StateStore } from '../../src/spi/state.store';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { noopLogger } from '../support/logger';

const policy = { type: 'T', id: '1', reentrant: false, maxStackDepth: 32, waitTimeoutMs: 200 };

/** Placement members on one store, each with a one-minute lease and `http://<name>` as its address. */
function members<N extends string[]>(store: ConstructorParameters<typeof ActorPlacement>[0], ...names: N): { [K in keyof N]: ActorPlacement } {
  return names.map(
    (name) =>
      new ActorPlacement(
        store,
        60_000,
        () => `http://${name}`,
        noopLogger,
        () => undefined,
      ),
  ) as { [K in keyof N]: ActorPlacement };
}

describe('TurnLock', () => {
  it('runs calls one at a time in arrival order', async () => {
    const lock = new TurnLock(policy);
    const log: string[] = [];
    const call = (name: string) =>
      lock.run(chainFor(undefined), async () => {
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, 5));
        log.push(`end ${name}`);
      });
    await Promise.all(['a', 'b', 'c'].map(call));
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(lock.busy).toBe(false);
  });

  it('a waiter past the wait timeout fails and leaves the queue; the next one still runs', async () => {
    const lock = new TurnLock(policy);
    let release: () => void = () => undefined;
    const holding = lock.run(chainFor(undefined), () => new Promise<void>((r) => (release = r)));
    await expect(lock.run(chainFor(undefined), async () => 'never')).rejects.toThrow(/stayed busy for 200 ms/);
    const next = lock.run(chainFor(undefined), async () => 'next');
    release();
    await holding;
    expect(await next).toBe('next');
  });

  it('the holding chain re-enters with reentrancy, fails at once without, and respects the depth', async () => {
    const reentrant = new TurnLock({ ...policy, reentrant: true, maxStackDepth: 2 });
    const chain = chainFor('c1');
    expect(await reentrant.run(chain, () => reentrant.run(chainFor('c1'), async (again) => again))).toBe(true);
    await expect(reentrant.run(chain, () => reentrant.run(chainFor('c1'), () => reentrant.run(chainFor('c1'), async () => 1)))).rejects.toMatchObject({
      code: 'ERR_ACTOR_STACK_DEPTH',
    });
    const plain = new TurnLock(policy);
    await expect(plain.run(chainFor('c2'), () => plain.run(chainFor('c2'), async () => 1))).rejects.toThrow(/re-entered actor T\/1/);
  });
});

describe('ActorPlacement', () => {
  async function store(): Promise<StateStore> {
    const s = memoryStateStoreFactory.create() as StateStore;
    await s.init(
      componentInit({ name: 'm', type: 'state.in-memory', appId: 'app', metadata: {}, clock: new VirtualClock(), logger: noopLogger, source: '(test)' }),
    );
    return s;
  }

  it("agrees on one owner per id across members, spreads ids, and moves only the leaving member's ids", async () => {
    const shared = new ActorStore('m', await store(), 'app');
    const members = ['a', 'b', 'c'].map(
      (name) =>
        new ActorPlacement(
          shared,
          60_000,
          () => `http://${name}`,
          noopLogger,
          () => undefined,
        ),
    );
    for (const m of members) await m.heartbeat();
    for (const m of members) await m.heartbeat(); // everyone sees everyone
    const ids = Array.from({ length: 3000 }, (_, i) => `id-${i}`);
    const owners = ids.map((id) => (members[0] as ActorPlacement).ownerOf('T', id));
    for (const m of members) expect(ids.map((id) => m.ownerOf('T', id))).toEqual(owners);
    for (const m of members) {
      const share = owners.filter((o) => o === m.instanceId).length;
      expect(share).toBeGreaterThan(800);
      expect(share).toBeLessThan(1200);
    }
    const leaving = members[2] as ActorPlacement;
    await leaving.stop();
    const stay = members[0] as ActorPlacement;
    await stay.heartbeat();
    const after = ids.map((id) => stay.ownerOf('T', id));
    ids.forEach((_, i) => {
      if (owners[i] !== leaving.instanceId) expect(after[i]).toBe(owners[i]);
      else expect(after[i]).not.toBe(leaving.instanceId);
    });
    expect(stay.addressOf((members[1] as ActorPlacement).instanceId)).toBe('http://b');
  });

  it('an instance knows when its own lease has passed (it then owns nothing while others are live)', async () => {
    const shared = new ActorStore('m', await store(), 'app');
    const p = new ActorPlacement(
      shared,
      100,
      () => 'http://x',
      noopLogger,
      () => undefined,
    );
    await p.heartbeat();
    expect(p.joined).toBe(true);
    expect(p.isLocal('T', '1')).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    expect(p.joined).toBe(false);
  });
});

describe('actor owner records (placement)', () => {
  async function shared(): Promise<ActorStore> {
    const s = memoryStateStoreFactory.create() as StateStore;
    await s.init(
      componentInit({ name: 'm', type: 'state.in-memory', appId: 'app', metadata: {}, clock: new VirtualClock(), logger: noopLogger, source: '(test)' }),
    );
    return new ActorStore('m', s, 'app');
  }

  it('is never taken from a live holder; taken once released or once the holder is no longer alive; a stale fence no longer matches', async () => {
    const store = await shared();
    const alive = new Set(['a', 'b']);
    const isAlive = async (instance: string): Promise<boolean> => alive.has(instance);
    const fenceA = await store.claimOwner('T', '1', 'a', isAlive);
    await expect(store.claimOwner('T', '1', 'b', isAlive)).rejects.toMatchObject({
      code: 'ERR_ACTOR_INSTANCE_MISSING',
      message: expect.stringContaining('instance a still holds it'),
    });
    // The holder releases it (it deactivated the actor): b takes it; a's fence is now stale.
    await store.releaseOwner(fenceA);
    const fenceB = await store.claimOwner('T', '1', 'b', isAlive);
    await expect(store.transact('T', '1', [{ key: 'k', value: '1' }], fenceA)).rejects.toMatchObject({ code: 'ERR_ACTOR_STATE_TRANSACTION_SAVE' });
    expect(await store.get('T', '1', 'k')).toBeUndefined();
    // b dies (its lease passes): a takes it over without a release, and b's late write is refused.
    alive.delete('b');
    await store.claimOwner('T', '1', 'a', isAlive);
    await expect(store.transact('T', '1', [{ key: 'k', value: '2' }], fenceB)).rejects.toMatchObject({ code: 'ERR_ACTOR_STATE_TRANSACTION_SAVE' });
    expect(await store.get('T', '1', 'k')).toBeUndefined();
    // Two claims of a missing record at once: one wins (create-only), the other is told to retry.
    const both = await Promise.allSettled([store.claimOwner('T', '2', 'a', isAlive), store.claimOwner('T', '2', 'b', async () => true)]);
    expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('a leaving member owns no ids but stays alive (its records are not taken over) until it leaves the table', async () => {
    const store = await shared();
    const [a, b] = members(store, 'a', 'b');
    for (const p of [a, b, a, b]) await p.heartbeat();
    const ids = Array.from({ length: 50 }, (_, i) => `id-${i}`);
    expect(ids.some((id) => b.ownerOf('T', id) === a.instanceId)).toBe(true);
    await a.beginLeaving();
    await b.heartbeat();
    expect(ids.every((id) => b.ownerOf('T', id) === b.instanceId)).toBe(true);
    expect(ids.every((id) => a.ownerOf('T', id) === b.instanceId)).toBe(true);
    expect(await b.memberAlive(a.instanceId)).toBe(true);
    await a.stop();
    expect(await b.memberAlive(a.instanceId)).toBe(false);
  });

  it('a leaving member waits (before its HTTP API closes) until every live peer has read the table since it left; bounded by the deadline', async () => {
    const store = await shared();
    const [a, b, c] = members(store, 'a', 'b', 'c');
    for (const p of [a, b, c, a, b, c]) await p.heartbeat();
    await a.beginLeaving();
    await a.stop();
    let done = false;
    const waiting = a.awaitPeersLetGo(Date.now() + 20_000).finally(() => (done = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBe(false); // neither b nor c read the table since a left: they may still forward calls to a
    await b.heartbeat();
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBe(false); // c has not
    await c.heartbeat();
    expect(await waiting).toBeLessThan(5000);
    expect(b.members()).not.toContain(a.instanceId);

    // A peer that never renews (paused, killed) holds the leave only until the deadline.
    b.pauseHeartbeats(true);
    await c.beginLeaving();
    await c.stop();
    const started = Date.now();
    const waited = await c.awaitPeersLetGo(Date.now() + 300);
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3000);

    // Alone: nothing to wait for.
    const alone = new ActorPlacement(
      await shared(),
      60_000,
      () => 'http://alone',
      noopLogger,
      () => undefined,
    );
    await alone.heartbeat();
    await alone.beginLeaving();
    await alone.stop();
    expect(await alone.awaitPeersLetGo(Date.now() + 20_000)).toBeLessThan(1000);
  });

  it('holds() is the per-turn check: false once the lease passed, and for activations of an epoch before a lapse', async () => {
    const store = await shared();
    const p = new ActorPlacement(
      store,
      100,
      () => 'http://x',
      noopLogger,
      () => undefined,
    );
    await p.heartbeat();
    const epoch = p.epoch;
    expect(p.holds(epoch)).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    expect(p.holds(epoch)).toBe(false);
    await p.heartbeat(); // renewed after a lapse: a new epoch
    expect(p.epoch).toBe(epoch + 1);
    expect(p.holds(epoch)).toBe(false);
    expect(p.holds(p.epoch)).toBe(true);
  });
});
