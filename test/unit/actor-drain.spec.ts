import { memoryStateStoreFactory } from '../../libs/memory';
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

async function harness(drainMs: number | undefined) {
  const clock = new VirtualClock();
  const state = memoryStateStoreFactory.create() as StateStore;
  await state.init(componentInit({ name: 'm', type: 'state.in-memory', appId: 'app', metadata: {}, clock, logger: noopLogger, source: '(test)' }));
  const store = new ActorStore('m', state, 'app');
  const service = new ActorsService(clock, noopLogger, { scanIntervalMs: 60_000, turnTimeoutMs: 5000, placementLeaseMs: 1000 });
  service.attach(store, new ReminderScheduler(store, clock, noopLogger, () => Promise.resolve()));
  let local = true;
  service.attachPlacement({ instanceId: 'me', isLocal: () => local } as unknown as ActorPlacement);
  const log: string[] = [];
  let release: () => void = () => undefined;
  const instance: ActorInstance = {
    invoke: async (method) => {
      log.push(`start ${method}`);
      await new Promise<void>((r) => (release = r));
      log.push(`end ${method}`);
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
    activate: async () => instance,
  };
  service.register(info);
  const call = service.invoke('T', '1', 'slow', []);
  while (!log.includes('start slow')) await new Promise((r) => setTimeout(r, 5));
  local = false;
  return { service, log, call, release: () => release() };
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
