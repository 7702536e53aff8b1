import { ActorScheduleError } from '../../../errors/actor.errors';
import type { Clock, TimerHandle } from '../../../spi/clock';
import type { ActorScheduleOptions } from './abstract-actor';
import type { FiringOutcome, TimerFiring } from './actor-host';
import { firingAt, parseSchedule, type Schedule } from './actor-schedule';

interface TimerEntry {
  handle?: TimerHandle;
  readonly schedule: Schedule;
  fired: number;
  readonly firing: TimerFiring;
}

/**
 * The timers of one activation (they end with it): each firing is handed to `fire` (which runs it in
 * the actor's turn); the next one is armed once it is done, unless it answered `cancel` or the timer
 * was removed meanwhile. A failed firing is reported to `failed` and the timer goes on.
 */
export class ActorTimers {
  private readonly entries = new Map<string, TimerEntry>();
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly fire: (firing: TimerFiring) => Promise<FiringOutcome | undefined>,
    private readonly failed: (name: string, err: unknown) => void,
  ) {}

  /** Registers (or replaces) timer `name`; a bad schedule is `ERR_ACTOR_TIMER_CREATE` naming the field. */
  add(name: string, callback: string, options: ActorScheduleOptions): void {
    const parsed = parseSchedule(options, this.clock.now());
    if (!parsed.ok) throw new ActorScheduleError('ERR_ACTOR_TIMER_CREATE', parsed.field, `error creating actor timer "${name}": ${parsed.reason}`);
    this.remove(name);
    const firing: TimerFiring = { name, callback, data: options.data, dueTime: options.dueTime || undefined, period: options.period || undefined };
    const entry: TimerEntry = { schedule: parsed.schedule, fired: 0, firing };
    this.entries.set(name, entry);
    this.arm(entry);
  }

  remove(name: string): void {
    const entry = this.entries.get(name);
    if (entry?.handle) this.clock.clearTimeout(entry.handle);
    this.entries.delete(name);
  }

  /** Removes every timer; none is armed again (the activation ends). */
  close(): void {
    this.closed = true;
    for (const name of [...this.entries.keys()]) this.remove(name);
  }

  private arm(entry: TimerEntry): void {
    const { name } = entry.firing;
    const at = firingAt(entry.schedule, entry.fired);
    if (at === undefined) {
      this.entries.delete(name);
      return;
    }
    entry.handle = this.clock.setTimeout(
      () => {
        entry.fired++;
        if (this.closed || this.entries.get(name) !== entry) return;
        this.fire(entry.firing)
          .then((outcome) => {
            if (outcome === 'cancel' && this.entries.get(name) === entry) this.remove(name);
          })
          .catch((err: unknown) => this.failed(name, err))
          .finally(() => {
            if (!this.closed && this.entries.get(name) === entry) this.arm(entry);
          });
      },
      Math.max(0, at - this.clock.now()),
    );
  }
}
