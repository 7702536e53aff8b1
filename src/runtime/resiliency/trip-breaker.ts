import { CircuitState, type IBreaker } from 'cockatiel';
import type { BreakerCounts, TripExpression } from '../../config/trip-expression';

/**
 * A cockatiel breaker that opens when `trip` holds after a failure, over gobreaker-style counts:
 * cleared every `intervalMs` while closed (0: never) and whenever the circuit changes state.
 */
export class TripBreaker implements IBreaker {
  private counts: BreakerCounts = zero();
  private since = Date.now();

  constructor(
    private readonly trip: TripExpression,
    private readonly intervalMs: number,
  ) {}

  get state(): unknown {
    return { ...this.counts };
  }

  set state(_value: unknown) {
    this.counts = zero();
  }

  success(state: CircuitState): void {
    if (state === CircuitState.HalfOpen) {
      this.reset();
      return;
    }
    this.roll();
    this.counts.requests++;
    this.counts.totalSuccesses++;
    this.counts.consecutiveSuccesses++;
    this.counts.consecutiveFailures = 0;
  }

  failure(state: CircuitState): boolean {
    if (state === CircuitState.HalfOpen) {
      this.reset();
      return true;
    }
    this.roll();
    this.counts.requests++;
    this.counts.totalFailures++;
    this.counts.consecutiveFailures++;
    this.counts.consecutiveSuccesses = 0;
    const open = this.trip(this.counts);
    if (open) this.reset();
    return open;
  }

  private roll(): void {
    if (this.intervalMs > 0 && Date.now() - this.since >= this.intervalMs) this.reset();
  }

  private reset(): void {
    this.counts = zero();
    this.since = Date.now();
  }
}

function zero(): BreakerCounts {
  return { requests: 0, totalSuccesses: 0, totalFailures: 0, consecutiveSuccesses: 0, consecutiveFailures: 0 };
}
