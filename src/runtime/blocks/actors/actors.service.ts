import { ActorError, ActorMethodNotFoundError, ActorNotHostedError, ActorTypeNotFoundError } from '../../../errors/actor.errors';
import { errorMessage } from '../../../errors/sidekick.error';
import type { Clock, TimerHandle } from '../../../spi/clock';
import type { SidekickLogger } from '../../../spi/logger';
import type { ActorContext, ActorReminderInfo, ActorScheduleOptions } from './abstract-actor';
import type { ActorInstance, ActorTypeInfo, FiringOutcome, ReminderFiring, TimerFiring } from './actor-host';
import { ActorTimers } from './actor-timers';
import type { ActorStateOp, ActorStore } from './actor-store';
import { forwardTimer, forwardToOwner } from './forward';
import type { ActorPlacement } from './placement';
import type { ReminderScheduler } from './reminders';
import { ActorStateManager } from './state-manager';
import { type CallChain, chainFor, TurnLock } from './turns';

export type { ActorTypeInfo } from './actor-host';

export interface ActorRuntimeSettings {
  /** How often idle actors are looked for (domain time). */
  readonly scanIntervalMs: number;
  /** How long a call waits for an actor's turn (real time). */
  readonly turnTimeoutMs: number;
  /** Placement's lease (real time); callers retry a moving actor for about twice this. */
  readonly placementLeaseMs: number;
}

interface Activation {
  readonly info: ActorTypeInfo;
  readonly id: string;
  readonly lock: TurnLock;
  readonly state: ActorStateManager;
  readonly timers: ActorTimers;
  instance?: ActorInstance;
  lastUsed: number;
  deactivated: boolean;
}

const RETRY = Symbol('retry');

/**
 * The actor runtime of one process: activation on first call, turn-based calls, state saved at the
 * end of each turn, timers, idle deactivation. The typed proxy, `SidekickClient.actors` and the
 * HTTP API all call {@link invoke}.
 */
export class ActorsService {
  private readonly types = new Map<string, ActorTypeInfo>();
  private readonly active = new Map<string, Map<string, Activation>>();
  private scanTimer?: TimerHandle;
  private scanIntervalMs: number;
  /** Sidecar mode: the app's actor types, until its `GET /dapr/config` has been read. */
  private typesPending?: Promise<void>;
  private closed = false;
  private reminders?: ReminderScheduler;
  private actorStore?: ActorStore;
  private placement?: ActorPlacement;

  constructor(
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
    private readonly settings: ActorRuntimeSettings,
  ) {
    this.scanIntervalMs = settings.scanIntervalMs;
  }

  register(info: ActorTypeInfo): void {
    this.types.set(info.type, info);
    this.active.set(info.type, new Map());
  }

  /** Sidecar mode: calls of a type not registered yet wait (up to the turn timeout) for `pending`, the app's types. */
  typesArriving(pending: Promise<void>): void {
    this.typesPending = pending;
    void pending.finally(() => {
      if (this.typesPending === pending) this.typesPending = undefined;
    });
  }

  /** How often idle actors are looked for (the app's `actorScanInterval` in sidecar mode). */
  setScanInterval(ms: number): void {
    if (ms === this.scanIntervalMs) return;
    this.scanIntervalMs = ms;
    if (this.scanTimer && !this.closed) {
      this.clock.clearTimeout(this.scanTimer);
      this.scheduleScan();
    }
  }

  /** Resolves once `type` is known, or the app's types have arrived (sidecar mode; at most the turn timeout). */
  async typeKnown(type: string): Promise<void> {
    const pending = this.typesPending;
    if (!this.types.has(type) && pending) await this.afterTypes(pending);
  }

  /** Whether `type` is hosted by the app behind the sidecar (its method calls pass bytes through). */
  isAppHosted(type: string): boolean {
    return this.types.get(type)?.host === 'app';
  }

  attach(store: ActorStore, reminders: ReminderScheduler): void {
    this.actorStore = store;
    this.reminders = reminders;
  }

  /** Placement across instances: calls for ids another instance owns are forwarded there. */
  attachPlacement(placement: ActorPlacement): void {
    this.placement = placement;
  }

  /** Whether this instance runs actor `type`/`id` (always, without placement). */
  owns(type: string, id: string): boolean {
    return this.placement?.isLocal(type, id) ?? true;
  }

  /** After a membership change: actors now owned elsewhere finish their turn and deactivate here. */
  async rebalance(): Promise<number> {
    const moving: Activation[] = [];
    for (const ids of this.active.values()) for (const act of ids.values()) if (!this.owns(act.info.type, act.id)) moving.push(act);
    await Promise.all(moving.map((act) => this.moveAway(act)));
    return moving.length;
  }

  /**
   * Deactivates an actor now owned elsewhere in its turn; a type with `drainMs` (the app's
   * `drainOngoingCallTimeout`, 0 without `drainRebalancedActors`) waits that long for the ongoing call,
   * then deactivates it without waiting for the turn, as daprd drains rebalanced actors.
   */
  private async moveAway(act: Activation): Promise<void> {
    const waitMs = act.info.drainMs;
    if (waitMs === undefined || !act.lock.busy) return this.deactivate(act);
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.deactivate(act).then(() => true),
      new Promise<boolean>((ok) => (timer = setTimeout(() => ok(false), waitMs))),
    ]).finally(() => clearTimeout(timer));
    if (drained || act.deactivated) return;
    act.deactivated = true;
    act.timers.close();
    try {
      await act.instance?.deactivate();
    } catch (err) {
      this.logger.error({ actorType: act.info.type, actorId: act.id, err: errorMessage(err) }, 'actor deactivation failed');
    } finally {
      if (this.active.get(act.info.type)?.get(act.id) === act) this.active.get(act.info.type)?.delete(act.id);
    }
  }

  typeNames(): string[] {
    return [...this.types.keys()];
  }

  /** The type, or the not-found error with `code`. */
  typeInfo(type: string, code = 'ERR_ACTOR_INVOKE_METHOD'): ActorTypeInfo {
    const info = this.types.get(type);
    if (!info) throw new ActorTypeNotFoundError(type, this.typeNames(), code);
    return info;
  }

  /** Active actors per type, for `/v1.0/metadata`. */
  counts(): { type: string; count: number }[] {
    return [...this.active].map(([type, ids]) => ({ type, count: ids.size }));
  }

  /** The instance of an active actor (benchmarks and tests compare against calling it directly). */
  activeInstance(type: string, id: string): object | undefined {
    return this.active.get(type)?.get(id)?.instance?.target;
  }

  isActive(type: string, id: string): boolean {
    return this.active.get(type)?.has(id) ?? false;
  }

  /**
   * Calls `method(...args)` on actor `type`/`id` in its turn, activating it first if needed. `chainId`:
   * the caller's call chain (`Dapr-Reentrancy-Id`); the running actor code's chain otherwise.
   * Errors thrown by the method reach the caller as they are.
   */
  invoke(type: string, id: string, method: string, args: readonly unknown[], chainId?: string, forwarded = false): Promise<unknown> {
    const info = this.types.get(type);
    if (!info) {
      const pending = this.typesPending;
      if (!pending) return Promise.reject(new ActorTypeNotFoundError(type, this.typeNames()));
      return this.afterTypes(pending).then(() => this.invoke(type, id, method, args, chainId, forwarded));
    }
    if (info.methods && !info.methods.has(method)) return Promise.reject(new ActorMethodNotFoundError(type, method, [...info.methods]));
    const chain = chainFor(chainId);
    if (this.placement && !this.placement.isLocal(type, id)) return this.remote(info, id, method, args, chain, forwarded);
    return this.call(info, id, (instance) => instance.invoke(method, args), chain, true);
  }

  /** Waits for the app's actor types, at most the turn timeout (the call then fails as for an unknown type). */
  private async afterTypes(pending: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((ok) => {
      timer = setTimeout(ok, this.settings.turnTimeoutMs);
      timer.unref();
    });
    try {
      await Promise.race([pending.catch(() => undefined), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A call for an actor another instance owns: forwarded to it through the HTTP API (one hop: a
   * forwarded call is never forwarded again). While the membership changes, the caller retries
   * transparently (refreshing its view) until the lease time has passed.
   */
  private async remote(info: ActorTypeInfo, id: string, method: string, args: readonly unknown[], chain: CallChain, forwarded: boolean): Promise<unknown> {
    const placement = this.placement as ActorPlacement;
    if (forwarded) {
      await placement.heartbeat();
      if (placement.isLocal(info.type, id)) return this.call(info, id, (instance) => instance.invoke(method, args), chain, true);
      throw new ActorNotHostedError(info.type, id, 'a forwarded call reached an instance that does not own it (membership changing)');
    }
    return forwardToOwner(placement, info.type, id, method, args, chain.id, {
      retryForMs: this.settings.placementLeaseMs * 2 + 2000,
      timeoutMs: this.settings.turnTimeoutMs + this.settings.placementLeaseMs,
      local: () => this.call(info, id, (instance) => instance.invoke(method, args), chain, true),
    });
  }

  /** Applies a state transaction of the HTTP API (`/v1.0/actors/{type}/{id}/state`). */
  async transact(type: string, id: string, ops: readonly ActorStateOp[]): Promise<void> {
    this.typeInfo(type, 'ERR_ACTOR_INSTANCE_MISSING');
    if (!this.owns(type, id))
      throw new ActorError('ERR_ACTOR_INSTANCE_MISSING', `actor instance is missing: ${type}/${id} is hosted by another instance of this app`);
    await this.store().transact(type, id, ops);
    this.active
      .get(type)
      ?.get(id)
      ?.state.discard(ops.map((op) => op.key));
  }

  async getState(type: string, id: string, key: string): Promise<Buffer | undefined> {
    this.typeInfo(type, 'ERR_ACTOR_INSTANCE_MISSING');
    return this.store().get(type, id, key);
  }

  /** Delivers a reminder in the actor's turn, activating it (`receiveReminder(name, data)`, or the app's `/method/remind/{name}`). */
  async fireReminder(type: string, id: string, name: string, data: unknown, schedule: { dueTime?: string; period?: string } = {}): Promise<FiringOutcome> {
    const info = this.typeInfo(type);
    const firing: ReminderFiring = { name, data, dueTime: schedule.dueTime, period: schedule.period };
    return (await this.call(info, id, (instance) => instance.reminder(firing), chainFor(undefined), false)) as FiringOutcome;
  }

  /** Registers a timer of an active actor (the HTTP API's `/timers/{name}`; activates it). */
  async registerTimer(type: string, id: string, name: string, callback: string, options: ActorScheduleOptions, forwarded = false): Promise<void> {
    const info = this.typeInfo(type, 'ERR_ACTOR_TIMER_CREATE');
    if (this.placement && !forwarded && !this.placement.isLocal(type, id)) {
      const address = this.placement.addressOf(this.placement.ownerOf(type, id));
      if (!address) throw new ActorNotHostedError(type, id, 'its owner has no address');
      await forwardTimer(address, type, id, name, { ...options, callback });
      return;
    }
    const act = await this.activated(info, id);
    this.addTimer(act, name, callback, options);
  }

  unregisterTimer(type: string, id: string, name: string): void {
    const act = this.active.get(type)?.get(id);
    act?.timers.remove(name);
  }

  start(): void {
    this.scheduleScan();
  }

  /** Refuses new calls, then deactivates every active actor (`onDeactivate`, in its turn). */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.scanTimer) this.clock.clearTimeout(this.scanTimer);
    const all = [...this.active.values()].flatMap((ids) => [...ids.values()]);
    await Promise.all(all.map((act) => this.deactivate(act)));
  }

  /** Deactivates actors idle longer than their type's idle timeout (also run by the periodic scan). */
  async deactivateIdle(): Promise<number> {
    const now = this.clock.now();
    const idle: Activation[] = [];
    for (const ids of this.active.values()) {
      for (const act of ids.values()) if (!act.lock.busy && now - act.lastUsed >= act.info.idleTimeoutMs) idle.push(act);
    }
    await Promise.all(idle.map((act) => this.deactivate(act)));
    return idle.length;
  }

  private scheduleScan(): void {
    this.scanTimer = this.clock.setTimeout(() => {
      this.deactivateIdle()
        .catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'idle actor scan failed'))
        .finally(() => {
          if (!this.closed) this.scheduleScan();
        });
    }, this.scanIntervalMs);
  }

  private async call(info: ActorTypeInfo, id: string, run: (instance: ActorInstance) => Promise<unknown>, chain: CallChain, touch: boolean): Promise<unknown> {
    for (;;) {
      if (this.closed) throw new ActorError('ERR_ACTOR_RUNTIME_CLOSED', 'the actor runtime is shutting down: no new actor calls are accepted');
      const act = this.activation(info, id);
      const result = await act.lock.run(chain, async (reentered) => {
        if (act.deactivated) return RETRY;
        try {
          const value = await run(act.instance ?? (await this.activate(act)));
          if (!reentered) await act.state.save();
          return value;
        } catch (err) {
          if (!reentered) act.state.discard();
          if (err instanceof ActorNotHostedError) this.drop(act);
          throw err;
        } finally {
          if (touch) act.lastUsed = this.clock.now();
        }
      });
      if (result !== RETRY) return result;
    }
  }

  private activation(info: ActorTypeInfo, id: string): Activation {
    const ids = this.active.get(info.type) as Map<string, Activation>;
    let act = ids.get(id);
    if (!act) {
      act = {
        info,
        id,
        lock: new TurnLock({ type: info.type, id, reentrant: info.reentrant, maxStackDepth: info.maxStackDepth, waitTimeoutMs: this.settings.turnTimeoutMs }),
        state: new ActorStateManager(this.store(), info.type, id),
        timers: new ActorTimers(
          this.clock,
          (firing) => this.fireTimer(act as Activation, firing),
          (timer, err) => this.logger.warn({ actorType: info.type, actorId: id, timer, err: errorMessage(err) }, 'actor timer callback failed'),
        ),
        lastUsed: this.clock.now(),
        deactivated: false,
      };
      ids.set(id, act);
    }
    return act;
  }

  /** The activation with its instance created (in a turn of its own when it has none yet). */
  private async activated(info: ActorTypeInfo, id: string): Promise<Activation> {
    for (;;) {
      const act = this.activation(info, id);
      if (act.instance) return act;
      const ok = await act.lock.run(chainFor(undefined), async () => {
        if (act.deactivated) return false;
        if (!act.instance) await this.activate(act);
        return true;
      });
      if (ok) return act;
    }
  }

  /** Creates the activation's code (an instance through Nest and its `onActivate`, or the app's actor), inside the first turn. */
  private async activate(act: Activation): Promise<ActorInstance> {
    try {
      if (this.placement) act.state.fence = await this.store().claimOwner(act.info.type, act.id, this.placement.instanceId);
      const instance = await act.info.activate(this.contextOf(act));
      act.instance = instance;
      return instance;
    } catch (err) {
      act.deactivated = true;
      this.active.get(act.info.type)?.delete(act.id);
      throw err;
    }
  }

  /** Forgets an activation that lost its ownership: no hook, no save (its writes would be refused). */
  private drop(act: Activation): void {
    act.deactivated = true;
    act.timers.close();
    if (this.active.get(act.info.type)?.get(act.id) === act) this.active.get(act.info.type)?.delete(act.id);
  }

  private async deactivate(act: Activation): Promise<void> {
    await act.lock.run(chainFor(undefined), async () => {
      if (act.deactivated) return;
      act.deactivated = true;
      act.timers.close();
      try {
        await act.instance?.deactivate();
        await act.state.save();
      } catch (err) {
        this.logger.error({ actorType: act.info.type, actorId: act.id, err: errorMessage(err) }, 'actor deactivation failed');
      } finally {
        this.active.get(act.info.type)?.delete(act.id);
      }
    });
  }

  private contextOf(act: Activation): ActorContext {
    const { type } = act.info;
    return {
      type,
      id: act.id,
      state: act.state,
      registerTimer: (name, callback, options) => this.addTimer(act, name, callback, options),
      unregisterTimer: (name) => act.timers.remove(name),
      registerReminder: (name, options, overwrite = true) => this.reminderScheduler().register(type, act.id, name, options, overwrite),
      unregisterReminder: (name) => this.reminderScheduler().unregister(type, act.id, name),
      getReminder: (name): Promise<ActorReminderInfo | undefined> => this.reminderScheduler().get(type, act.id, name),
    };
  }

  private addTimer(act: Activation, name: string, callback: string, options: ActorScheduleOptions): void {
    if (!act.instance?.hasCallback(callback)) {
      throw new ActorError('ERR_ACTOR_TIMER_CREATE', `error creating actor timer "${name}": ${act.info.className} has no method "${callback}" to call back`);
    }
    act.timers.add(name, callback, options);
  }

  /** A timer firing, in the actor's turn (state saved after it, dropped if it fails). */
  private fireTimer(act: Activation, firing: TimerFiring): Promise<FiringOutcome | undefined> {
    return act.lock.run(chainFor(undefined), async () => {
      if (act.deactivated || !act.instance) return undefined;
      try {
        const outcome = await act.instance.timer(firing);
        await act.state.save();
        return outcome;
      } catch (err) {
        act.state.discard();
        throw err;
      }
    });
  }

  private store(): ActorStore {
    if (!this.actorStore)
      throw new ActorError('ERR_ACTOR_RUNTIME_NOT_FOUND', 'actor runtime is not configured: no state store is marked actorStateStore: "true"');
    return this.actorStore;
  }

  private reminderScheduler(): ReminderScheduler {
    if (!this.reminders)
      throw new ActorError('ERR_ACTOR_RUNTIME_NOT_FOUND', 'actor runtime is not configured: no state store is marked actorStateStore: "true"');
    return this.reminders;
  }
}
