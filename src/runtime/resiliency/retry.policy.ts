import { ExponentialBackoff, type IBackoff } from 'cockatiel';
import type { Clock } from '../../spi/clock';

export interface RetryPolicyOptions {
  /** Retries after the first attempt (default 3). */
  readonly maxRetries?: number;
  /**
   * Scale of the first backoff in ms (default 200). Backoffs grow about x2 per retry with cockatiel's
   * decorrelated jitter (so not exact doublings), up to `maxDelayMs` (default 5000).
   */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
}

/**
 * Retries with exponential backoff (cockatiel's), waited through the injectable clock, so a virtual
 * clock drives them in tests. Pub/sub delivery uses `delays()`/`sleep()` step by step (its loop also
 * watches shutdown); any other block can call `execute()`.
 */
export class RetryPolicy {
  readonly maxRetries: number;
  private readonly backoff: ExponentialBackoff<unknown>;

  constructor(
    private readonly clock: Clock,
    options: RetryPolicyOptions = {},
  ) {
    this.maxRetries = options.maxRetries ?? 3;
    this.backoff = new ExponentialBackoff({ initialDelay: options.initialDelayMs ?? 200, maxDelay: options.maxDelayMs ?? 5000 });
  }

  /** A fresh sequence of delays for one operation. */
  delays(): () => number {
    let current: IBackoff<unknown> | undefined;
    return () => {
      current = current ? current.next(undefined) : this.backoff.next();
      return current.duration;
    };
  }

  sleep(ms: number): Promise<void> {
    return this.clock.sleep(ms);
  }

  /**
   * Runs `fn`, retrying while it throws an error that may help to retry (not a SidekickError with
   * `retryable: false`), at most `maxRetries` times. The last error is thrown.
   */
  async execute<T>(fn: () => Promise<T>, shouldRetry: (err: unknown) => boolean = isRetryable): Promise<T> {
    let nextDelay: (() => number) | undefined;
    for (let retry = 0; ; retry++) {
      try {
        return await fn();
      } catch (err) {
        if (retry >= this.maxRetries || !shouldRetry(err)) throw err;
        nextDelay ??= this.delays();
        await this.sleep(nextDelay());
      }
    }
  }
}

/** Errors are retryable unless they say otherwise (`retryable: false`, as non-retryable SidekickErrors do). */
export function isRetryable(err: unknown): boolean {
  return !(typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === false);
}
