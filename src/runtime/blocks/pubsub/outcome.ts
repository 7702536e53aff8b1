import { errorMessage } from '../../../errors/sidekick.error';
import type { Outcome } from './pubsub.types';

const SUCCESS: Outcome = { status: 'success' };

/**
 * Runs a handler call and turns its result or error into an {@link Outcome}. A synchronous handler
 * is not awaited (one less promise per event on the hot path).
 */
export async function outcomeOf(call: () => unknown): Promise<Outcome> {
  try {
    const result = call();
    if (isThenable(result)) await result;
    return SUCCESS;
  } catch (err) {
    const error = err instanceof Error ? err : new Error(errorMessage(err));
    const code = (error as { code?: unknown }).code;
    if (code === 'DROP') return { status: 'drop', reason: error.message };
    const retryable = (error as { retryable?: unknown }).retryable;
    return { status: 'retry', error, retryable: code === undefined || retryable !== false };
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}
