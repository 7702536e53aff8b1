import type { CallInfo, Interceptor } from '../../../spi/interceptor';
import { isRetryable } from '../../resiliency/retry.policy';
import type { ResiliencyService, TargetPolicies } from './resiliency.service';

/** An invocation answered with a status its policy counts as a failure; its response is returned once retries are spent. */
class FailedStatus extends Error {
  constructor(
    readonly response: unknown,
    status: number,
  ) {
    super(`the app answered ${status}`);
  }
}

/**
 * A delivery its inbound retry policy gave up on: not retryable, so the subscription dead-letters it
 * or hands it back to the broker instead of retrying again with `pubsub.retry` (the policy replaces it).
 */
export class InboundPolicyExhausted extends Error {
  readonly retryable = false;
  constructor(cause: unknown) {
    super(`${cause instanceof Error ? cause.message : String(cause)} (the inbound resiliency retry policy gave up)`, { cause });
  }
}

/**
 * The Resiliency policies at the interception seam, in Dapr's order: retry around circuit breaker
 * around timeout around the call. Service invocation counts a response of 5xx (or of the codes in
 * the retry policy's `matching.httpStatusCodes`) as a failure; when retries are spent the caller
 * gets that last response, as from daprd. Every retry, timeout and breaker state change is an
 * activation (a metric and a span event).
 */
export function resiliencyInterceptor(service: ResiliencyService): Interceptor {
  return {
    name: 'resiliency',
    kinds: ['component', 'delivery', 'invoke'],
    intercept<T>(call: CallInfo, next: () => Promise<T>): Promise<T> {
      const policies = service.policiesFor(call);
      if (!policies) return next();
      service.executed(policies);
      return run(service, policies, call, next);
    },
  };
}

async function run<T>(service: ResiliencyService, policies: TargetPolicies, call: CallInfo, next: () => Promise<T>): Promise<T> {
  const labels = { name: policies.resiliency, direction: policies.direction, target: policies.target };
  let attempt: () => Promise<T> = next;
  if (call.kind === 'invoke') {
    const codes = policies.retrySpec?.httpStatusCodes;
    const failed = (status: number): boolean => (codes ? codes(status) : status >= 500);
    attempt = () =>
      next().then((res) => {
        const status = (res as { status?: unknown }).status;
        if (typeof status === 'number' && failed(status)) throw new FailedStatus(res, status);
        return res;
      });
  }
  const timeout = policies.timeout;
  const timed = timeout
    ? (): Promise<T> =>
        timeout.execute(attempt, `${call.kind} ${call.target} ${call.operation}`).catch((err: unknown) => {
          if ((err as { code?: unknown }).code === 'ERR_TIMEOUT') service.emit({ ...labels, policy: 'timeout' }, { timeoutMs: timeout.ms });
          throw err;
        })
    : attempt;
  const breaker = policies.circuitBreaker;
  const broken = breaker ? (): Promise<T> => breaker.execute(timed) : timed;
  const retry = policies.retry;
  try {
    if (!retry) return await broken();
    return await retry.execute(broken, isRetryable, (n, err, delayMs) =>
      service.emit(
        { ...labels, policy: 'retry' },
        { attempt: n, delayMs: Math.round(delayMs), error: err instanceof Error ? err.message.slice(0, 200) : 'error' },
      ),
    );
  } catch (err) {
    if (err instanceof FailedStatus) return err.response as T;
    if (retry && call.kind === 'delivery' && call.type === 'pubsub') throw new InboundPolicyExhausted(err);
    throw err;
  }
}
