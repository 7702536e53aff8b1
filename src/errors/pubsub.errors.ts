import { SidekickError } from './sidekick.error';

/**
 * The brand of control-flow signals thrown by handlers. Recognised by this registered symbol, not by
 * class identity or `code`, so a second copy of the package (or a user error that happens to use the
 * code `DROP`) cannot be mistaken for one.
 */
const CONTROL = Symbol.for('sidekick.control-signal');

/** Throw from a subscription handler to drop the event: it is acknowledged (dead-lettered if configured), logged and counted, never retried. */
export class DropEvent extends SidekickError {
  readonly [CONTROL] = 'drop' as const;
  constructor(reason = 'dropped by the handler') {
    super('DROP', reason);
  }
}

/** Throw from a handler to ask for a retry explicitly (any other error retries too, unless it is a non-retryable SidekickError). */
export class RetryEvent extends SidekickError {
  readonly [CONTROL] = 'retry' as const;
  constructor(reason = 'retry requested by the handler') {
    super('RETRY', reason, { retryable: true });
  }
}

/** `'drop'` for a {@link DropEvent}, `'retry'` for a {@link RetryEvent}, else undefined. */
export function controlSignal(err: unknown): 'drop' | 'retry' | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const value = (err as { [CONTROL]?: unknown })[CONTROL];
  return value === 'drop' || value === 'retry' ? value : undefined;
}

export class PubSubNotFoundError extends SidekickError {
  constructor(name: string, known: readonly string[]) {
    super('ERR_PUBSUB_NOT_FOUND', `pubsub ${name} not found (configured pub/subs: ${known.join(', ') || 'none'})`, { component: name });
  }
}

export class PublishError extends SidekickError {
  constructor(pubsub: string, topic: string, cause: unknown) {
    super(
      'ERR_PUBSUB_PUBLISH_MESSAGE',
      `error when publishing to topic ${topic} in pubsub ${pubsub}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        component: pubsub,
        cause,
        retryable: true,
      },
    );
  }
}

export class BindingNotFoundError extends SidekickError {
  constructor(name: string, direction: 'input' | 'output', known: readonly string[]) {
    super('ERR_INVOKE_OUTPUT_BINDING', `${direction} binding ${name} not found (configured ${direction} bindings: ${known.join(', ') || 'none'})`, {
      component: name,
    });
  }
}
