import { BrokenCircuitError, circuitBreaker, ConsecutiveBreaker, handleWhen, type CircuitBreakerPolicy as CockatielBreaker } from 'cockatiel';
import { SidekickError } from '../../errors/sidekick.error';
import { isRetryable } from './retry.policy';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (Dapr's `trip: consecutiveFailures > N`; default 5). */
  readonly consecutiveFailures?: number;
  /** How long the circuit stays open before one trial call (Dapr's `timeout`; default 60 s). */
  readonly halfOpenAfterMs?: number;
}

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
    this.breaker = circuitBreaker(handleWhen(isRetryable), {
      halfOpenAfter: options.halfOpenAfterMs ?? 60_000,
      breaker: new ConsecutiveBreaker(options.consecutiveFailures ?? 5),
    });
  }

  get state(): 'closed' | 'open' | 'half-open' | 'isolated' {
    return (['closed', 'open', 'half-open', 'isolated'] as const)[this.breaker.state] ?? 'closed';
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
