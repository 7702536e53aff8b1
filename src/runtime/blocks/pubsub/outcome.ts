import { errorMessage } from '../../../errors/sidekick.error';
import type { Outcome } from './pubsub.types';

/** Runs a handler call and turns its result or error into an {@link Outcome}. */
export async function outcomeOf(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    await call();
    return { status: 'success' };
  } catch (err) {
    const error = err instanceof Error ? err : new Error(errorMessage(err));
    const code = (error as { code?: unknown }).code;
    if (code === 'DROP') return { status: 'drop', reason: error.message };
    const retryable = (error as { retryable?: unknown }).retryable;
    return { status: 'retry', error, retryable: code === undefined || retryable !== false };
  }
}
