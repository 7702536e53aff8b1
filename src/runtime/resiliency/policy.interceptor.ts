import type { CallInfo, Interceptor } from '../../spi/interceptor';
import type { CircuitBreakerPolicy } from './circuit-breaker.policy';
import type { RetryPolicy } from './retry.policy';
import type { TimeoutPolicy } from './timeout.policy';

/** What applies to one call: Dapr's order is retry around circuit breaker around timeout. */
export interface CallPolicies {
  readonly retry?: RetryPolicy;
  readonly circuitBreaker?: CircuitBreakerPolicy;
  readonly timeout?: TimeoutPolicy;
}

/**
 * Resiliency at the interception seam: `select` picks the policies of a call (by component name,
 * target app, operation...), or none. The Resiliency YAML reader builds `select` from its targets.
 */
export function policyInterceptor(select: (call: CallInfo) => CallPolicies | undefined, name = 'resiliency'): Interceptor {
  return {
    name,
    kinds: ['component', 'invoke'],
    intercept<T>(call: CallInfo, next: () => Promise<T>): Promise<T> {
      const policies = select(call);
      if (!policies) return next();
      const timed = policies.timeout
        ? (): Promise<T> => (policies.timeout as TimeoutPolicy).execute(next, `${call.kind} ${call.target} ${call.operation}`)
        : next;
      const broken = policies.circuitBreaker ? (): Promise<T> => (policies.circuitBreaker as CircuitBreakerPolicy).execute(timed) : timed;
      return policies.retry ? policies.retry.execute(broken) : broken();
    },
  };
}
