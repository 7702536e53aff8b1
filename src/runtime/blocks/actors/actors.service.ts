import { ActorError, ActorMethodNotFoundError, ActorMovingError, ActorNotHostedError, ActorTypeNotFoundError } from '../../../errors/actor.errors';
import { errorMessage } from '../../../errors/sidekick.error';
import type { Clock, TimerHandle } from '../../../spi/clock';
import type { SidekickLogger } from '../../../spi/logger';
import { type ActorContext, type ActorReminderInfo, type ActorScheduleOptions, bindActorContext } from './abstract-actor';
import type { ActorStateOp, ActorStore } from './actor-store';
import { callWhereOwned, forwardTimer } from './forward';
import type { ActorPlacement } from './placement';
import type { ReminderScheduler } from './reminders';
import { ActorStateManager } from './state-manager';
import { type CallChain, chainFor, TurnLock } from './turns';
import { ActorTimers, type TimerEntry } from './actor-timers';

/** A registered actor type. */
export interface ActorTypeInfo {
  readonly type: string;
  /** The class name, for messages. */
  readonly className: string;
  readonly methods: ReadonlySet<string>;
  readonly idleTimeoutMs: number;
  readonly reentrant: boolean;
  readonly maxStackDepth: number;
  /** A new instance through the module's injector. */
  create(): Promise<object>;
}

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
  readonly timers: Map<string, TimerEntry>;
  instance?: Record<string, unknown>;
  lastUsed: number;
  deactivated: boolean;
  /** Placement: the lease epoch its owner record was claimed in (void once this instance's lease lapsed). */
  epoch?: number;
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
  private closed = false;
  private reminders?: ReminderScheduler;
  private actorStore?: ActorStore;
  private placement?: ActorPlacement;
  private readonly timers: ActorTimers<Activation>;

  constructor(
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
    private readonly settings: ActorRuntimeSettings,
  ) {
    this.timers = new ActorTimers(clock, logger, (act) => this.save(act));
  }

  register(info: ActorTypeInfo): void {
    this.types.set(info.type, info);
    this.active.set(info.type, new Map());
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

  /**
   * After each heartbeat: actors now owned elsewhere (the membership changed) finish their turn, deactivate
   * and release their owner record, which lets their new owner activate them; activations of a lapsed
   * lease are dropped (another instance may own them already).
   */
  async rebalance(): Promise<number> {
    const placement = this.placement;
    if (!placement) return 0;
    const moving: Activation[] = [];
    for (const ids of this.active.values())
      for (const act of ids.values()) {
        if (act.instance && !placement.holds(act.epoch)) this.drop(act);
        else if (!placement.isLocal(act.info.type, act.id)) moving.push(act);
      }
    await Promise.all(moving.map((act) => this.deactivate(act)));
    return moving.length;
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
    return this.active.get(type)?.get(id)?.instance;
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
    if (!info) return Promise.reject(new ActorTypeNotFoundError(type, this.typeNames()));
    if (!info.methods.has(method)) return Promise.reject(new ActorMethodNotFoundError(type, method, [...info.methods]));
    const chain = chainFor(chainId);
    if (!this.placement) return this.call(info, id, method, args, chain, true);
    return this.placed(info, id, method, args, chain, forwarded, true);
  }

  /** Placement: the call where the actor's owner is, retried while the actor moves (see {@link callWhereOwned}). */
  private placed(
    info: ActorTypeInfo,
    id: string,
    method: string,
    args: readonly unknown[],
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
      local: () => this.call(info, id, method, args, chain, touch),
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

  /** Delivers a reminder: `receiveReminder(name, data)` in the actor's turn (activating it). */
  fireReminder(type: string, id: string, name: string, data: unknown): Promise<unknown> {
    const info = this.typeInfo(type);
    if (this.placement && info.methods.has('receiveReminder')) return this.placed(info, id, 'receiveReminder', [name, data], chainFor(undefined), false, false);
    return this.call(info, id, 'receiveReminder', [name, data], chainFor(undefined), false);
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
    this.timers.add(act, name, callback, options);
  }

  unregisterTimer(type: string, id: string, name: string): void {
    const act = this.active.get(type)?.get(id);
    if (act) this.timers.remove(act, name);
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
    }, this.settings.scanIntervalMs);
  }

  private async call(info: ActorTypeInfo, id: string, method: string, args: readonly unknown[], chain: CallChain, touch: boolean): Promise<unknown> {
    for (;;) {
      if (this.closed) throw new ActorError('ERR_ACTOR_RUNTIME_CLOSED', 'the actor runtime is shutting down: no new actor calls are accepted');
      const act = this.activation(info, id);
      const result = await act.lock.run(chain, async (reentered) => {
        if (act.deactivated) return RETRY;
        // Placement, the hot path: an active actor serves the turn while this instance's lease (the one its
        // owner record was claimed under) holds; no store access. Otherwise it is dropped and the call re-routed.
        if (this.placement && act.instance && !this.placement.holds(act.epoch)) {
          this.drop(act);
          throw new ActorMovingError(info.type, id, "this instance's lease lapsed since it activated the actor");
        }
        try {
          const instance = act.instance ?? (await this.activate(act));
          const fn = instance[method];
          if (typeof fn !== 'function') {
            throw method === 'receiveReminder'
              ? new ActorError(
                  'ERR_ACTOR_INVOKE_METHOD',
                  `actor type ${info.type} received a reminder but ${info.className} has no receiveReminder(name, data) method`,
                )
              : new ActorMethodNotFoundError(info.type, method, [...info.methods]);
          }
          const value: unknown = await (fn as (...a: readonly unknown[]) => unknown).apply(instance, [...args]);
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
        timers: new Map(),
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

  /** Creates the instance through Nest and runs `onActivate` (inside the first turn). */
  private async activate(act: Activation): Promise<Record<string, unknown>> {
    try {
      const placement = this.placement;
      if (placement) {
        // Serve only after confirming ownership against the store: a held lease, the id ours in the current
        // view, and the owner record claimed (never taken from another live instance: it releases it first).
        if (!(await placement.ensureLease())) throw new ActorMovingError(act.info.type, act.id, 'this instance holds no membership lease yet');
        if (!placement.isLocal(act.info.type, act.id))
          throw new ActorMovingError(act.info.type, act.id, 'the membership changed: another instance owns it now');
        const epoch = placement.epoch;
        act.state.fence = await this.store().claimOwner(act.info.type, act.id, placement.instanceId, (other) => placement.memberAlive(other));
        act.epoch = epoch;
      }
      const instance = (await act.info.create()) as Record<string, unknown>;
      bindActorContext(instance, this.contextOf(act));
      const hook = instance['onActivate'];
      if (typeof hook === 'function') await (hook as () => Promise<void>).call(instance);
      act.instance = instance;
      return instance;
    } catch (err) {
      act.deactivated = true;
      this.active.get(act.info.type)?.delete(act.id);
      await this.release(act);
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
    for (const name of [...act.timers.keys()]) this.timers.remove(act, name);
    if (this.active.get(act.info.type)?.get(act.id) === act) this.active.get(act.info.type)?.delete(act.id);
    void this.release(act);
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

  /** Placement: marks the activation's owner record released (refused, harmlessly, when another instance took it). */
  private async release(act: Activation): Promise<void> {
    const fence = act.state.fence;
    if (!fence) return;
    act.state.fence = undefined;
    await this.store()
      .releaseOwner(fence)
      .catch((err: unknown) =>
        this.logger.debug({ actorType: act.info.type, actorId: act.id, err: errorMessage(err) }, 'actor owner record not released (another instance holds it)'),
      );
  }

  private async deactivate(act: Activation): Promise<void> {
    await act.lock.run(chainFor(undefined), async () => {
      if (act.deactivated) return;
      act.deactivated = true;
      for (const name of [...act.timers.keys()]) this.timers.remove(act, name);
      try {
        const hook = act.instance?.['onDeactivate'];
        if (typeof hook === 'function') await (hook as () => Promise<void>).call(act.instance);
        await act.state.save();
      } catch (err) {
        this.logger.error({ actorType: act.info.type, actorId: act.id, err: errorMessage(err) }, 'actor onDeactivate failed');
      } finally {
        this.active.get(act.info.type)?.delete(act.id);
        await this.release(act);
      }
    });
  }

  private contextOf(act: Activation): ActorContext {
    const { type } = act.info;
    return {
      type,
      id: act.id,
      state: act.state,
      registerTimer: (name, callback, options) => this.timers.add(act, name, callback, options),
      unregisterTimer: (name) => this.timers.remove(act, name),
      registerReminder: (name, options, overwrite = true) => this.reminderScheduler().register(type, act.id, name, options, overwrite),
      unregisterReminder: (name) => this.reminderScheduler().unregister(type, act.id, name),
      getReminder: (name): Promise<ActorReminderInfo | undefined> => this.reminderScheduler().get(type, act.id, name),
    };
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
