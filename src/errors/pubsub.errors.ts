import { SidekickError } from './sidekick.error';

/** Throw from a subscription handler to drop the event: it is acknowledged (dead-lettered if configured), logged and counted, never retried. */
export class DropEvent extends SidekickError {
  constructor(reason = 'dropped by the handler') {
    super('DROP', reason);
  }
}

/** Throw from a handler to ask for a retry explicitly (any other error retries too, unless it is a non-retryable SidekickError). */
export class RetryEvent extends SidekickError {
  constructor(reason = 'retry requested by the handler') {
    super('RETRY', reason, { retryable: true });
  }
}

export class PubSubNotFoundError extends SidekickError {
  constructor(name: string, known: readonly string[]) {
    super('ERR_PUBSUB_NOT_FOUND', `pubsub ${name} not found (configured pub/subs: ${known.join(', ') || 'none'})`, { component: name });
  }
}

export class PublishError extends SidekickError {
  constructor(pubsub: string, topic: string, cause: unknown) {
    super('ERR_PUBSUB_PUBLISH_MESSAGE', `error when publishing to topic ${topic} in pubsub ${pubsub}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      component: pubsub,
      cause,
      retryable: true,
    });
  }
}

export class BindingNotFoundError extends SidekickError {
  constructor(name: string, direction: 'input' | 'output', known: readonly string[]) {
    super('ERR_INVOKE_OUTPUT_BINDING', `${direction} binding ${name} not found (configured ${direction} bindings: ${known.join(', ') || 'none'})`, { component: name });
  }
}
