import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, type CircuitBreakerPolicy as CockatielBreaker } from 'cockatiel';
import { SidekickError } from '../../errors/sidekick.error';
import { isRetryable } from './retry.policy';
import type { TripExpression } from '../../config/trip-expression';
import { TripBreaker } from './trip-breaker';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (Dapr's `trip: consecutiveFailures > N`; default 5). */
  readonly consecutiveFailures?: number;
  /** How long the circuit stays open before one trial call (Dapr's `timeout`; default 60 s). */
  readonly halfOpenAfterMs?: number;
  /** Dapr's `trip` expression over the counts; replaces `consecutiveFailures` when given. */
  readonly trip?: TripExpression;
  /** Dapr's `interval`: while closed, the counts are cleared this often (0 or unset: never). */
  readonly intervalMs?: number;
  /** Told each state change (`open`, `half-open`, `closed`). */
  readonly onStateChange?: (state: BreakerState) => void;
  /** What counts as a failure (default: retryable errors). */
  readonly isFailure?: (err: unknown) => boolean;
}

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

const STATES: Readonly<Record<CircuitState, BreakerState>> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/**
 * Dapr's circuit breaker on cockatiel's: after N consecutive retryable failures calls fail at once
 * with `ERR_CIRCUIT_OPEN` until the open period passed and a trial call succeeds. Non-retryable
 * errors (an ETag mismatch, a bad request) do not count.
 */
export class CircuitBreakerPolicy {
  private readonly breaker: CockatielBreaker;

  constructor(
    readonly name: string,
    options: CircuitBreakerOptions = {},
  ) {
    this.breaker = circuitBreaker(handleWhen(options.isFailure ?? isRetryable), {
      halfOpenAfter: options.halfOpenAfterMs ?? 60_000,
      breaker: options.trip ? new TripBreaker(options.trip, options.intervalMs ?? 0) : new ConsecutiveBreaker(options.consecutiveFailures ?? 5),
    });
    const listener = options.onStateChange;
    if (listener) this.breaker.onStateChange((state) => listener(STATES[state]));
  }

  get state(): BreakerState {
    return STATES[this.breaker.state];
  }

  async execute<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.breaker.execute(fn);
    } catch (err) {
      if (err instanceof BrokenCircuitError) {
        throw new SidekickError('ERR_CIRCUIT_OPEN', `circuit breaker "${this.name}" is open: calls fail fast until it half-opens`, {
          retryable: true,
          cause: err,
        });
      }
      throw err;
    }
  }
}
