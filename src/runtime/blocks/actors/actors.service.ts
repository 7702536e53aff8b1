import { ActorError, ActorMethodNotFoundError, ActorMovingError, ActorNotHostedError, ActorTypeNotFoundError } from '../../../errors/actor.errors';
import { errorMessage } from '../../../errors/sidekick.error';
import type { Clock, TimerHandle } from '../../../spi/clock';
import type { SidekickLogger } from '../../../spi/logger';
import type { ActorContext, ActorReminderInfo, ActorScheduleOptions } from './abstract-actor';
import type { ActorInstance, ActorTypeInfo, FiringOutcome, ReminderFiring, TimerFiring } from './actor-host';
import { type Activation, type ActivationMoves, ActorOwnership } from './actor-ownership';
import { ActorTimers } from './actor-timers';
import type { ActorStateOp, ActorStore } from './actor-store';
import { callWhereOwned, forwardTimer } from './forward';
import type { ActorPlacement } from './placement';
import type { ReminderScheduler } from './reminders';
import { PendingTypes } from './pending-types';
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
  private readonly typesPending: PendingTypes;
  private closed = false;
  private reminders?: ReminderScheduler;
  private actorStore?: ActorStore;
  private placement?: ActorPlacement;
  private ownership?: ActorOwnership;

  constructor(
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
    private readonly settings: ActorRuntimeSettings,
  ) {
    this.scanIntervalMs = settings.scanIntervalMs;
    this.typesPending = new PendingTypes(settings.turnTimeoutMs);
  }

  register(info: ActorTypeInfo): void {
    this.types.set(info.type, info);
    this.active.set(info.type, new Map());
  }

  /** Sidecar mode: calls of a type not registered yet wait (up to the turn timeout) for `pending`, the app's types. */
  typesArriving(pending: Promise<void>): void {
    this.typesPending.arriving(pending);
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
    if (!this.types.has(type)) await this.typesPending.settled();
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
    this.ownership = new ActorOwnership(placement, () => this.store(), this.logger);
  }

  /** Whether this instance runs actor `type`/`id` (always, without placement). */
  owns(type: string, id: string): boolean {
    return this.placement?.isLocal(type, id) ?? true;
  }

  /** After each heartbeat (placement): actors now owned elsewhere move away (see {@link ActorOwnership.rebalance}). */
  rebalance(): Promise<number> {
    const all = [...this.active.values()].flatMap((ids) => [...ids.values()]);
    return this.ownership?.rebalance(all, this.moves) ?? Promise.resolve(0);
  }

  /** What rebalancing does to an activation (see {@link ActorOwnership.rebalance}). */
  private readonly moves: ActivationMoves = {
    drop: (act) => this.drop(act),
    deactivate: (act) => this.deactivate(act),
    forget: (act) => {
      if (this.active.get(act.info.type)?.get(act.id) === act) this.active.get(act.info.type)?.delete(act.id);
    },
  };

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
      if (!this.typesPending.waiting) return Promise.reject(new ActorTypeNotFoundError(type, this.typeNames()));
      return this.typesPending.settled().then(() => this.invoke(type, id, method, args, chainId, forwarded));
    }
    if (info.methods && !info.methods.has(method)) return Promise.reject(new ActorMethodNotFoundError(type, method, [...info.methods]));
    const chain = chainFor(chainId);
    const run = (instance: ActorInstance): Promise<unknown> => instance.invoke(method, args);
    if (!this.placement) return this.call(info, id, run, chain, true);
    return this.placed(info, id, method, args, run, chain, forwarded, true);
  }

  /**
   * Placement: the call where the actor's owner is (forwarded as `method(args)`, bytes for an actor of the
   * app), retried while the actor moves (see {@link callWhereOwned}).
   */
  private placed(
    info: ActorTypeInfo,
    id: string,
    method: string,
    args: readonly unknown[],
    run: (instance: ActorInstance) => Promise<unknown>,
    chain: CallChain,
    forwarded: boolean,
    touch: boolean,
  ): Promise<unknown> {
    return callWhereOwned(this.placement as ActorPlacement, {
      type: info.type,
      id,
      method,
      args,
      chainId: chain.id,
      forwarded,
      leaseMs: this.settings.placementLeaseMs,
      timeoutMs: this.settings.turnTimeoutMs + this.settings.placementLeaseMs,
      local: () => this.call(info, id, run, chain, touch),
      giveUp: (err) => this.closedFor(err),
    });
  }

  /** A call refused because this runtime is closing is retried only when the actor now lives elsewhere. */
  private closedFor(err: unknown): boolean {
    return this.closed && err instanceof ActorError && err.code === 'ERR_ACTOR_RUNTIME_CLOSED' && !this.placement?.joined;
  }

  /** Applies a state transaction of the HTTP API (`/v1.0/actors/{type}/{id}/state`). */
  async transact(type: string, id: string, ops: readonly ActorStateOp[]): Promise<void> {
    this.typeInfo(type, 'ERR_ACTOR_INSTANCE_MISSING');
    if (!this.owns(type, id))
      throw new ActorError('ERR_ACTOR_INSTANCE_MISSING', `actor instance is missing: ${type}/${id} is hosted by another instance of this app`);
    const act = this.active.get(type)?.get(id);
    if (!act?.state.fence) {
      await this.store().transact(type, id, ops);
      act?.state.discard(ops.map((op) => op.key));
      return;
    }
    try {
      await act.state.transact(ops); // placement: fenced by the activation's owner record
    } catch (err) {
      if (err instanceof ActorNotHostedError) this.drop(act);
      throw err;
    }
  }

  async getState(type: string, id: string, key: string): Promise<Buffer | undefined> {
    this.typeInfo(type, 'ERR_ACTOR_INSTANCE_MISSING');
    return this.store().get(type, id, key);
  }

  /** Delivers a reminder in the actor's turn, activating it (`receiveReminder(name, data)`, or the app's `/method/remind/{name}`). */
  async fireReminder(type: string, id: string, name: string, data: unknown, schedule: { dueTime?: string; period?: string } = {}): Promise<FiringOutcome> {
    const info = this.typeInfo(type);
    const firing: ReminderFiring = { name, data, dueTime: schedule.dueTime, period: schedule.period };
    const run = (instance: ActorInstance): Promise<FiringOutcome> => instance.reminder(firing);
    if (!this.placement) return (await this.call(info, id, run, chainFor(undefined), false)) as FiringOutcome;
    // Placement: an @Actor's reminder moving meanwhile reaches its owner as a receiveReminder call; an app's
    // actor is never forwarded (the owner's own scheduler fires it): it waits here while the actor moves.
    const forwardable = info.host === 'in-process' && (info.methods?.has('receiveReminder') ?? false);
    const outcome = await this.placed(info, id, 'receiveReminder', [name, data], run, chainFor(undefined), !forwardable, false);
    return outcome === 'cancel' ? 'cancel' : 'done';
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
        // Placement, the hot path: an active actor serves the turn while this instance's lease (the one its
        // owner record was claimed under) holds; no store access. Otherwise it is dropped and the call re-routed.
        if (this.ownership && act.instance && !this.ownership.holds(act)) {
          this.drop(act);
          throw new ActorMovingError(info.type, id, "this instance's lease lapsed since it activated the actor");
        }
        try {
          const value = await run(act.instance ?? (await this.activate(act)));
          if (!reentered) await (act.state.fence ? this.save(act) : act.state.save()); // no extra step without placement
          return value;
        } catch (err) {
          if (!reentered) act.state.discard();
          throw err;
        } finally {
          if (touch) act.lastUsed = this.clock.now();
        }
      });
      if (result !== RETRY) return result;
      // The activation ended while the call waited: with placement, the actor may be moving elsewhere.
      if (this.placement && !this.placement.isLocal(info.type, id)) throw new ActorMovingError(info.type, id, 'it was deactivated here while the call waited');
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
      await this.ownership?.claim(act);
      const instance = await act.info.activate(this.contextOf(act));
      act.instance = instance;
      return instance;
    } catch (err) {
      act.deactivated = true;
      this.active.get(act.info.type)?.delete(act.id);
      await this.ownership?.release(act);
      throw err;
    }
  }

  /**
   * Forgets an activation that lost (or may have lost) its ownership: no hook, no save (its writes would be
   * refused); its owner record is released if it still holds it, so the actor's owner can take it.
   */
  private drop(act: Activation): void {
    if (act.deactivated) return;
    act.deactivated = true;
    act.timers.close();
    if (this.active.get(act.info.type)?.get(act.id) === act) this.active.get(act.info.type)?.delete(act.id);
    void this.ownership?.release(act);
  }

  /** Saves the turn's changes; an activation whose save was refused by the fencing token is dropped (not an error of a nested call). */
  private async save(act: Activation): Promise<void> {
    try {
      await act.state.save();
    } catch (err) {
      if (err instanceof ActorNotHostedError) this.drop(act);
      throw err;
    }
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
        await this.ownership?.release(act);
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
        await (act.state.fence ? this.save(act) : act.state.save());
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
