import { ConstantBackoff, ExponentialBackoff, halfJitterGenerator, type IBackoff, type IBackoffFactory } from 'cockatiel';
import type { Clock } from '../../spi/clock';

export interface RetryPolicyOptions {
  /** Retries after the first attempt (default 3; `Infinity` retries until it succeeds, Dapr's `maxRetries: -1`). */
  readonly maxRetries?: number;
  /**
   * `exponential` (default) or `constant` (Dapr's `policy`): a constant policy waits `initialDelayMs`
   * between attempts (Dapr's `duration`).
   */
  readonly backoff?: 'exponential' | 'constant';
  /** Growth per retry of the exponential backoff (default 2; Dapr's is 1.5, with jitter of ±50%). */
  readonly exponent?: number;
  /** Jitter of the exponential backoff: cockatiel's decorrelated jitter (default) or half jitter (Dapr-like). */
  readonly jitter?: 'decorrelated' | 'half';
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
  private readonly backoff: IBackoffFactory<unknown>;

  constructor(
    private readonly clock: Clock,
    options: RetryPolicyOptions = {},
  ) {
    this.maxRetries = options.maxRetries ?? 3;
    const initialDelay = options.initialDelayMs ?? 200;
    this.backoff =
      options.backoff === 'constant'
        ? new ConstantBackoff(initialDelay)
        : new ExponentialBackoff({
            initialDelay,
            maxDelay: options.maxDelayMs ?? 5000,
            ...(options.exponent ? { exponent: options.exponent } : {}),
            ...(options.jitter === 'half' ? { generator: halfJitterGenerator } : {}),
          });
  }

  /** A fresh sequence of delays for one operation. */
  delays(): () => number {
    let current: IBackoff<unknown> | undefined;
    return () => {
      current = current ? current.next(undefined) : this.backoff.next(undefined);
      return current.duration;
    };
  }

  sleep(ms: number): Promise<void> {
    return this.clock.sleep(ms);
  }

  /**
   * Runs `fn`, retrying while it throws an error that may help to retry (not a SidekickError with
   * `retryable: false`), at most `maxRetries` times. The last error is thrown. `onRetry` is told of
   * each retry before its backoff (attempt 1 is the first retry).
   */
  async execute<T>(
    fn: () => Promise<T>,
    shouldRetry: (err: unknown) => boolean = isRetryable,
    onRetry?: (attempt: number, err: unknown, delayMs: number) => void,
  ): Promise<T> {
    let nextDelay: (() => number) | undefined;
    for (let retry = 0; ; retry++) {
      try {
        return await fn();
      } catch (err) {
        if (retry >= this.maxRetries || !shouldRetry(err)) throw err;
        nextDelay ??= this.delays();
        const delay = nextDelay();
        onRetry?.(retry + 1, err, delay);
        await this.sleep(delay);
      }
    }
  }
}

/** Errors are retryable unless they say otherwise (`retryable: false`, as non-retryable SidekickErrors do). */
export function isRetryable(err: unknown): boolean {
  return !(typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === false);
}
