import { ActorError, ActorScheduleError } from '../../../errors/actor.errors';
import { errorMessage } from '../../../errors/sidekick.error';
import type { Clock, TimerHandle } from '../../../spi/clock';
import type { SidekickLogger } from '../../../spi/logger';
import type { ActorScheduleOptions } from './abstract-actor';
import { firingAt, parseSchedule, type Schedule } from './actor-schedule';
import type { ActorStateManager } from './state-manager';
import { chainFor, type TurnLock } from './turns';

export interface TimerEntry {
  handle?: TimerHandle;
  readonly schedule: Schedule;
  fired: number;
  readonly callback: string;
  readonly data: unknown;
}

/** What timers need of an activation. */
export interface TimerOwner {
  readonly info: { readonly type: string; readonly className: string };
  readonly id: string;
  readonly lock: TurnLock;
  readonly state: ActorStateManager;
  readonly timers: Map<string, TimerEntry>;
  instance?: Record<string, unknown>;
  deactivated: boolean;
}

/**
 * Actor timers: each firing calls its callback in the actor's turn and saves the state; they live with
 * the activation (removed when it deactivates) and do not keep it active.
 */
export class ActorTimers<A extends TimerOwner> {
  constructor(
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
    /** Saves a turn's changes (the runtime's save, which handles a refused fence). */
    private readonly save: (act: A) => Promise<void>,
  ) {}

  add(act: A, name: string, callback: string, options: ActorScheduleOptions): void {
    const parsed = parseSchedule(options, this.clock.now());
    if (!parsed.ok) throw new ActorScheduleError('ERR_ACTOR_TIMER_CREATE', parsed.field, `error creating actor timer "${name}": ${parsed.reason}`);
    if (typeof act.instance?.[callback] !== 'function') {
      throw new ActorError('ERR_ACTOR_TIMER_CREATE', `error creating actor timer "${name}": ${act.info.className} has no method "${callback}" to call back`);
    }
    this.remove(act, name);
    const entry: TimerEntry = { schedule: parsed.schedule, fired: 0, callback, data: options.data };
    act.timers.set(name, entry);
    this.arm(act, name, entry);
  }

  private arm(act: A, name: string, entry: TimerEntry): void {
    const at = firingAt(entry.schedule, entry.fired);
    if (at === undefined) {
      act.timers.delete(name);
      return;
    }
    entry.handle = this.clock.setTimeout(
      () => {
        entry.fired++;
        if (act.deactivated || act.timers.get(name) !== entry) return;
        act.lock
          .run(chainFor(undefined), async () => {
            if (act.deactivated || !act.instance) return;
            const fn = act.instance[entry.callback] as (data: unknown) => unknown;
            try {
              await fn.call(act.instance, entry.data);
              await this.save(act);
            } catch (err) {
              act.state.discard();
              throw err;
            }
          })
          .catch((err: unknown) =>
            this.logger.warn({ actorType: act.info.type, actorId: act.id, timer: name, err: errorMessage(err) }, 'actor timer callback failed'),
          )
          .finally(() => {
            if (!act.deactivated && act.timers.get(name) === entry) this.arm(act, name, entry);
          });
      },
      Math.max(0, at - this.clock.now()),
    );
  }

  remove(act: A, name: string): void {
    const entry = act.timers.get(name);
    if (entry?.handle) this.clock.clearTimeout(entry.handle);
    act.timers.delete(name);
  }
}
