import { memoryStateStoreFactory } from '../../libs/memory';
import type { ActorContext } from '../../src/runtime/blocks/actors/abstract-actor';
import type { ActorInstance, ActorTypeInfo } from '../../src/runtime/blocks/actors/actor-host';
import { ActorStore } from '../../src/runtime/blocks/actors/actor-store';
import { ActorsService } from '../../src/runtime/blocks/actors/actors.service';
import type { ActorPlacement } from '../../src/runtime/blocks/actors/placement';
import { ReminderScheduler } from '../../src/runtime/blocks/actors/reminders';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { componentInit } from '../../src/spi/metadata-reader';
import type { StateStore } from '../../src/spi/state.store';
import { noopLogger } from '../support/logger';

/**
 * Rebalancing an actor whose ongoing call outlasts its type's drain time (the app's
 * `drainOngoingCallTimeout`; 0 when `drainRebalancedActors` is false): deactivated once that time has
 * passed, without waiting for the turn. Types without one wait for the turn.
 */

async function harness(drainMs: number | undefined, writeLate = false, stay = false) {
  const clock = new VirtualClock();
  const state = memoryStateStoreFactory.create() as StateStore;
  await state.init(componentInit({ name: 'm', type: 'state.in-memory', appId: 'app', metadata: {}, clock, logger: noopLogger, source: '(test)' }));
  const store = new ActorStore('m', state, 'app');
  const service = new ActorsService(clock, noopLogger, { scanIntervalMs: 60_000, turnTimeoutMs: 5000, placementLeaseMs: 1000 });
  service.attach(store, new ReminderScheduler(store, clock, noopLogger, () => Promise.resolve()));
  let local = true;
  // This instance holds its lease and the actor's owner record (claimed in the in-memory store) until `local` turns false.
  const placement = {
    instanceId: 'me',
    epoch: 1,
    joined: true,
    isLocal: () => local,
    ownerOf: () => (local ? 'me' : 'other'),
    holds: () => true,
    ensureLease: () => Promise.resolve(true),
    memberAlive: () => Promise.resolve(false),
    addressOf: () => undefined,
    heartbeat: () => Promise.resolve(),
  };
  service.attachPlacement(placement as unknown as ActorPlacement);
  const log: string[] = [];
  let release: () => void = () => undefined;
  let context: ActorContext | undefined;
  const instance: ActorInstance = {
    invoke: async (method) => {
      log.push(`start ${method}`);
      await new Promise<void>((r) => (release = r));
      log.push(`end ${method}`);
      if (writeLate) await context?.state.set('late', 1); // saved at the end of the turn
      return 'done';
    },
    hasCallback: () => true,
    timer: async () => 'done',
    reminder: async () => 'done',
    deactivate: async () => {
      log.push('deactivate');
    },
  };
  const info: ActorTypeInfo = {
    type: 'T',
    className: 'test',
    idleTimeoutMs: 60_000,
    reentrant: false,
    maxStackDepth: 32,
    drainMs,
    host: 'app',
    activate: async (ctx) => {
      context = ctx;
      return instance;
    },
  };
  service.register(info);
  const call = service.invoke('T', '1', 'slow', []);
  while (!log.includes('start slow')) await new Promise((r) => setTimeout(r, 5));
  local = stay;
  return { service, store, log, call, release: () => release() };
}

test('an ongoing call longer than drainMs: the actor is deactivated after drainMs, without waiting for its turn', async () => {
  const h = await harness(100);
  const started = Date.now();
  expect(await h.service.rebalance()).toBe(1);
  expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  expect(h.log).toEqual(['start slow', 'deactivate']);
  expect(h.service.isActive('T', '1')).toBe(false);
  h.release();
  expect(await h.call).toBe('done');
  await new Promise((r) => setTimeout(r, 20));
  expect(h.log).toEqual(['start slow', 'deactivate', 'end slow']); // deactivated once
});

test('drainMs 0 (drainRebalancedActors: false): deactivated at once', async () => {
  const h = await harness(0);
  await h.service.rebalance();
  expect(h.log).toEqual(['start slow', 'deactivate']);
  h.release();
  await h.call;
});

test('no drainMs (in-process types): the deactivation waits for the ongoing call', async () => {
  const h = await harness(undefined);
  const rebalanced = h.service.rebalance();
  await new Promise((r) => setTimeout(r, 100));
  expect(h.log).toEqual(['start slow']);
  h.release();
  await rebalanced;
  expect(h.log).toEqual(['start slow', 'end slow', 'deactivate']);
  expect(await h.call).toBe('done');
});

test("a drained actor releases its owner record at once (its new owner may claim it); the late turn's write is refused by the fence", async () => {
  const h = await harness(50, true);
  await h.service.rebalance();
  expect(h.log).toEqual(['start slow', 'deactivate']);
  const fence = await h.store.claimOwner('T', '1', 'other', () => Promise.resolve(true)); // not refused: released, though "me" is alive
  expect(fence.value).toContain('other');
  h.release();
  await expect(h.call).rejects.toMatchObject({ code: 'ERR_ACTOR_INSTANCE_MISSING' });
  expect(await h.store.get('T', '1', 'late')).toBeUndefined();
});

test("an app actor's state transaction (the HTTP API, in its turn) is fenced like a turn's save: refused once another instance took the record", async () => {
  const h = await harness(undefined, false, true);
  await h.service.transact('T', '1', [{ key: 'mine', value: '1' }]); // while this instance holds the record
  expect((await h.store.get('T', '1', 'mine'))?.toString()).toBe('1');
  await h.store.claimOwner('T', '1', 'other', () => Promise.resolve(false)); // "me" seen dead: the record is taken over
  await expect(h.service.transact('T', '1', [{ key: 'stale', value: '2' }])).rejects.toMatchObject({ code: 'ERR_ACTOR_INSTANCE_MISSING' });
  expect(await h.store.get('T', '1', 'stale')).toBeUndefined();
  expect(h.service.isActive('T', '1')).toBe(false); // dropped
  h.release();
  await h.call.catch(() => undefined);
});
