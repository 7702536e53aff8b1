import { controlSignal } from '../../../errors/pubsub.errors';
import { errorMessage } from '../../../errors/sidekick.error';
import { isRetryable } from '../../resiliency/retry.policy';
import type { Outcome } from './pubsub.types';

const SUCCESS: Outcome = { status: 'success' };

/**
 * Runs a handler call and turns its result or error into an {@link Outcome}: at once (no promise)
 * when the handler returned or threw synchronously, else once its promise settles. The hot path of
 * a synchronous handler allocates no promise.
 */
export function outcomeOf(call: () => unknown): Outcome | Promise<Outcome> {
  let result: unknown;
  try {
    result = call();
  } catch (err) {
    return failure(err);
  }
  if (!isThenable(result)) return SUCCESS;
  return Promise.resolve(result).then(() => SUCCESS, failure);
}

/** A thrown value as an outcome: a {@link DropEvent} (by its brand) drops; `retryable: false` stops retrying. */
function failure(err: unknown): Outcome {
  const error = err instanceof Error ? err : new Error(errorMessage(err));
  if (controlSignal(error) === 'drop') return { status: 'drop', reason: error.message };
  return { status: 'retry', error, retryable: isRetryable(error) };
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}
