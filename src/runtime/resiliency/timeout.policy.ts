import { type Clock, withTimeout } from '../../spi/clock';
import { SidekickError } from '../../errors/sidekick.error';

/** Fails a call that takes longer than `ms` of the clock's time (the work itself is not cancelled). */
export class TimeoutPolicy {
  constructor(
    private readonly clock: Clock,
    readonly ms: number,
  ) {}

  execute<T>(fn: () => Promise<T>, what = 'the call'): Promise<T> {
    return withTimeout(this.clock, this.ms, fn, () => new SidekickError('ERR_TIMEOUT', `${what} did not finish within ${this.ms} ms`, { retryable: true }));
  }
}
