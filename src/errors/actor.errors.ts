import { SidekickError, type SidekickErrorOptions } from './sidekick.error';

/**
 * An actor operation failed. `code` is daprd's (`ERR_ACTOR_INVOKE_METHOD`, `ERR_ACTOR_REMINDER_CREATE`,
 * ...), so the Dapr HTTP API answers with daprd's status and body.
 */
export class ActorError extends SidekickError {
  constructor(code: string, message: string, options: SidekickErrorOptions = {}) {
    super(code, message, options);
  }
}

/** No actor type of that name is registered in this app. */
export class ActorTypeNotFoundError extends ActorError {
  constructor(type: string, known: readonly string[], code = 'ERR_ACTOR_INVOKE_METHOD') {
    super(code, `did not find address for actor ${type}: no actor type "${type}" is registered (registered types: ${known.join(', ') || 'none'})`);
  }
}

/** The actor class has no public method of that name. */
export class ActorMethodNotFoundError extends ActorError {
  constructor(type: string, method: string, known: readonly string[]) {
    super('ERR_ACTOR_INVOKE_METHOD', `error invoke actor method: actor type ${type} has no method "${method}" (its methods: ${known.join(', ') || 'none'})`);
  }
}

/** The actor method threw; `cause` is what it threw. */
export class ActorMethodFailedError extends ActorError {
  constructor(type: string, id: string, method: string, cause: unknown) {
    super('ERR_ACTOR_INVOKE_METHOD', `error invoke actor method: ${type}/${id}.${method} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/**
 * A call waited longer than the turn timeout for the actor's turn, or would deadlock: a call chain
 * re-entering an actor it is already inside, with reentrancy disabled for the type.
 */
export class ActorTurnError extends ActorError {
  constructor(message: string) {
    super('ERR_ACTOR_INVOKE_METHOD', message, { retryable: false });
  }
}

/** A bad `dueTime`, `period` or `ttl` of a timer or reminder. */
export class ActorScheduleError extends ActorError {
  constructor(code: 'ERR_ACTOR_REMINDER_CREATE' | 'ERR_ACTOR_TIMER_CREATE', field: string, message: string) {
    super(code, message, { field });
  }
}

/**
 * Placement across instances: this instance no longer owns the actor (another took it over when this
 * one's lease passed, or the membership changed). A write refused by the fencing token ends up here;
 * callers retry against the new owner.
 */
export class ActorNotHostedError extends ActorError {
  constructor(type: string, id: string, why: string) {
    super('ERR_ACTOR_INSTANCE_MISSING', `actor ${type}/${id} is now hosted by another instance: ${why}`, { httpStatus: 503, retryable: true });
  }
}

/**
 * Placement across instances: the call did not run here because the actor is moving (the membership
 * changed, this instance's lease lapsed, or another live instance still holds the actor's owner record
 * and has not released it yet). Nothing ran, so callers retry it transparently against the owner.
 */
export class ActorMovingError extends ActorNotHostedError {
  static readonly MARK = 'the call did not run';

  constructor(type: string, id: string, why: string) {
    super(type, id, `${why} (${ActorMovingError.MARK}; it is retried against the owner)`);
  }
}
