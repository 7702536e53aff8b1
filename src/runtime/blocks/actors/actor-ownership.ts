import { ActorMovingError } from '../../../errors/actor.errors';
import { errorMessage } from '../../../errors/sidekick.error';
import type { SidekickLogger } from '../../../spi/logger';
import type { ActorInstance, ActorTypeInfo } from './actor-host';
import type { ActorStore } from './actor-store';
import type { ActorTimers } from './actor-timers';
import type { ActorPlacement } from './placement';
import type { ActorStateManager } from './state-manager';
import type { TurnLock } from './turns';

/** One active actor of this process (in-process class, or an actor of the app behind the sidecar). */
export interface Activation {
  readonly info: ActorTypeInfo;
  readonly id: string;
  readonly lock: TurnLock;
  readonly state: ActorStateManager;
  readonly timers: ActorTimers;
  instance?: ActorInstance;
  lastUsed: number;
  deactivated: boolean;
  /** Placement: the lease epoch its owner record was claimed in (void once this instance's lease lapsed). */
  epoch?: number;
  /** Placement: its owner record was released (its fence is stale from then on: later saves are refused). */
  released?: boolean;
}

/** What rebalancing does to an activation, in the runtime. */
export interface ActivationMoves {
  /** Forgets an activation of a lapsed lease (no hook, no save). */
  drop(act: Activation): void;
  /** Deactivates it in its turn (hook, save, release). */
  deactivate(act: Activation): Promise<void>;
  /** Removes it from the active actors (a drained actor, deactivated outside its turn). */
  forget(act: Activation): void;
}

/**
 * Placement's side of an activation: an instance serves an actor only after claiming its owner record
 * (never taken from another live instance), checks its lease epoch before each turn, and releases the
 * record when the activation ends, which lets the actor's new owner take it.
 */
export class ActorOwnership {
  constructor(
    private readonly placement: ActorPlacement,
    private readonly store: () => ActorStore,
    private readonly logger: SidekickLogger,
  ) {}

  /**
   * Confirms ownership against the store before the activation serves: a held lease, the id ours in the
   * current view, and the owner record claimed (the record's fence then guards every save).
   */
  async claim(act: Activation): Promise<void> {
    const placement = this.placement;
    if (!(await placement.ensureLease())) throw new ActorMovingError(act.info.type, act.id, 'this instance holds no membership lease yet');
    if (!placement.isLocal(act.info.type, act.id)) throw new ActorMovingError(act.info.type, act.id, 'the membership changed: another instance owns it now');
    const epoch = placement.epoch;
    act.state.fence = await this.store().claimOwner(act.info.type, act.id, placement.instanceId, (other) => placement.memberAlive(other));
    act.epoch = epoch;
  }

  /** The hot-path check before a turn of an active actor: this instance's lease (the one it claimed under) still holds. */
  holds(act: Activation): boolean {
    return this.placement.holds(act.epoch);
  }

  /** Whether the actor is owned here in the current view. */
  isLocal(act: Activation): boolean {
    return this.placement.isLocal(act.info.type, act.id);
  }

  /**
   * After each heartbeat: actors now owned elsewhere (the membership changed) finish their turn (or are
   * drained, see {@link drainAway}), deactivate and release their owner record, which lets their new
   * owner activate them; activations of a lapsed lease are dropped (another instance may own them already).
   */
  async rebalance(all: readonly Activation[], moves: ActivationMoves): Promise<number> {
    const moving: Activation[] = [];
    for (const act of all) {
      if (act.instance && !this.holds(act)) moves.drop(act);
      else if (!this.isLocal(act)) moving.push(act);
    }
    await Promise.all(
      moving.map((act) =>
        drainAway(
          act,
          () => moves.deactivate(act),
          () => this.forceDeactivate(act, moves),
        ),
      ),
    );
    return moving.length;
  }

  /** A drained actor: deactivated without waiting for its ongoing turn (whose later save is refused by the fence). */
  private async forceDeactivate(act: Activation, moves: ActivationMoves): Promise<void> {
    act.deactivated = true;
    act.timers.close();
    try {
      await act.instance?.deactivate();
    } catch (err) {
      this.logger.error({ actorType: act.info.type, actorId: act.id, err: errorMessage(err) }, 'actor deactivation failed');
    } finally {
      moves.forget(act);
      await this.release(act);
    }
  }

  /**
   * Marks the activation's owner record released (refused, harmlessly, when another instance took it).
   * The fence stays on the state manager: the release changes the record, so a save the activation
   * still attempts (a drained turn finishing late) is refused.
   */
  async release(act: Activation): Promise<void> {
    const fence = act.state.fence;
    if (!fence || act.released) return;
    act.released = true;
    await this.store()
      .releaseOwner(fence)
      .catch((err: unknown) =>
        this.logger.debug({ actorType: act.info.type, actorId: act.id, err: errorMessage(err) }, 'actor owner record not released (another instance holds it)'),
      );
  }
}

/**
 * Rebalancing: an actor now owned elsewhere is deactivated in its turn; a type with `drainMs` (the
 * app's `drainOngoingCallTimeout`, 0 without `drainRebalancedActors`) waits that long for the ongoing
 * call, then is deactivated without waiting for the turn (`force`), as daprd drains rebalanced actors.
 */
export async function drainAway(act: Activation, inTurn: () => Promise<void>, force: () => Promise<void>): Promise<void> {
  const waitMs = act.info.drainMs;
  if (waitMs === undefined || !act.lock.busy) return inTurn();
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([inTurn().then(() => true), new Promise<boolean>((ok) => (timer = setTimeout(() => ok(false), waitMs)))]).finally(() =>
    clearTimeout(timer),
  );
  if (drained || act.deactivated) return;
  await force();
}
