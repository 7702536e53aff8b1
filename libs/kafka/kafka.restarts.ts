import { ExponentialBackoff, halfJitterGenerator, type IBackoff, type IBackoffFactory } from 'cockatiel';
import { errorMessage } from '../../src/errors/sidekick.error';
import type { Clock, TimerHandle } from '../../src/spi/clock';
import type { SidekickLogger } from '../../src/spi/logger';

/** First delay before re-creating a consumer kafkajs gave up on, and the cap the delays grow to (about x2 per attempt). */
export const RESTART_INITIAL_DELAY_MS = 500;
export const RESTART_MAX_DELAY_MS = 30_000;

export interface ConsumerRestartsOptions {
  readonly clock: Clock;
  readonly logger: SidekickLogger;
  /** What the consumer is, for logs (`pub/sub kafka, group app`). */
  readonly label: string;
  /** Re-creates the consumer (same group: it resumes at the committed offsets); rejects when it could not. */
  readonly restart: () => Promise<void>;
  /** Delays between attempts; default: exponential from 500 ms, capped at 30 s, half jitter (cockatiel). */
  readonly backoff?: IBackoffFactory<unknown>;
}

/** Why a consumer is down and what is being done about it (what `ping()` reports). */
export interface RestartStatus {
  /** Why kafkajs gave up, or why the last attempt failed. */
  readonly reason: string;
  /** The attempt scheduled next (1 = the first). */
  readonly attempt: number;
  /** When it runs (clock time, ms). */
  readonly at: number;
}

/**
 * Re-creates a group consumer kafkajs gave up on (its CRASH event with `restart: false`: kafkajs
 * never restarts that consumer itself, so its subscriptions would silently stop receiving). Attempts
 * run with a capped exponential backoff until one succeeds; each is logged with the reason and its
 * number. `stop()` (component close) cancels the pending attempt: no timer is left behind, and the
 * clock's timers never keep the process alive.
 */
export class ConsumerRestarts {
  private readonly backoff: IBackoffFactory<unknown>;
  private next?: IBackoff<unknown>;
  private timer?: TimerHandle;
  private pending?: RestartStatus;
  private running = false;
  /** kafkajs gave up on the re-created consumer before its attempt finished. */
  private lostAgain?: unknown;
  private stopped = false;

  constructor(private readonly options: ConsumerRestartsOptions) {
    this.backoff =
      options.backoff ?? new ExponentialBackoff({ initialDelay: RESTART_INITIAL_DELAY_MS, maxDelay: RESTART_MAX_DELAY_MS, generator: halfJitterGenerator });
  }

  /** Down and not recovered yet: why, and the next attempt. Undefined while the consumer runs. */
  get status(): RestartStatus | undefined {
    return this.pending;
  }

  /**
   * kafkajs gave up on the consumer (or, `why`, re-creating it for a subscription change failed): schedules
   * attempt 1 (nothing when attempts are already under way, or after stop()).
   */
  gaveUp(error: unknown, why = 'kafkajs gave up on the consumer'): void {
    if (this.stopped || this.timer) return;
    if (this.running) {
      this.lostAgain = error;
      return;
    }
    this.next = undefined;
    this.schedule(1, `${why}: ${errorMessage(error)}`);
  }

  /** The consumer runs again (re-created by an attempt, or by a subscription change meanwhile): cancels the pending attempt. */
  recovered(): void {
    this.cancel();
    this.pending = undefined;
    this.next = undefined;
  }

  /** The component closes: no attempt runs any more. */
  stop(): void {
    this.stopped = true;
    this.cancel();
    this.pending = undefined;
  }

  private cancel(): void {
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(attempt: number, reason: string): void {
    const { clock, logger, label } = this.options;
    this.next = this.next ? this.next.next(undefined) : this.backoff.next(undefined);
    const delay = Math.max(0, Math.round(this.next.duration));
    this.pending = { reason, attempt, at: clock.now() + delay };
    logger.error({ attempt, delayMs: delay, reason }, `kafka ${label}: consumer is down (${reason}); re-creating it, attempt ${attempt} in ${delay} ms`);
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      void this.attempt(attempt, reason);
    }, delay);
  }

  private async attempt(attempt: number, reason: string): Promise<void> {
    if (this.stopped) return;
    const { logger, label } = this.options;
    this.running = true;
    this.lostAgain = undefined;
    let failure: string | undefined;
    try {
      await this.options.restart();
    } catch (err) {
      failure = `attempt ${attempt} failed: ${errorMessage(err)}`;
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (failure === undefined && this.lostAgain === undefined) {
      logger.warn({ attempt, reason }, `kafka ${label}: consumer re-created (attempt ${attempt}; it had stopped: ${reason})`);
      this.recovered();
      return;
    }
    failure ??= `kafkajs gave up on the re-created consumer: ${errorMessage(this.lostAgain)}`;
    this.lostAgain = undefined;
    this.schedule(attempt + 1, failure);
  }
}
