import { SidekickError } from './sidekick.error';

/** No lock store component is configured at all. daprd: 500 `ERR_LOCK_STORE_NOT_CONFIGURED`. */
export class LockStoreNotConfiguredError extends SidekickError {
  constructor(name: string) {
    super(
      'ERR_LOCK_STORE_NOT_CONFIGURED',
      `lock store ${name} is not configured: no lock component is loaded (add one of type lock.redis, lock.postgresql or lock.in-memory)`,
      {
        component: name,
      },
    );
  }
}

/** daprd: 400 `ERR_LOCK_STORE_NOT_FOUND`. */
export class LockStoreNotFoundError extends SidekickError {
  constructor(name: string, known: readonly string[]) {
    super('ERR_LOCK_STORE_NOT_FOUND', `lock store ${name} not found (configured lock stores: ${known.length > 0 ? known.join(', ') : 'none'})`, {
      component: name,
    });
  }
}

/**
 * `@WithLock` (or `SidekickClient.lock.withLock`) found the lock held by someone else and did not
 * wait for it (fail fast). Retryable: the lock frees up when its holder unlocks or its expiry passes.
 */
export class LockHeldError extends SidekickError {
  readonly store: string;
  readonly resourceId: string;

  constructor(store: string, resourceId: string) {
    super('ERR_LOCK_HELD', `lock "${resourceId}" in lock store ${store} is held by another owner`, { component: store });
    this.store = store;
    this.resourceId = resourceId;
  }
}

/**
 * A state write carried a fencing token older than one already written for the same resource: the
 * writer's lock expired and another owner has since taken it and written. Not retryable with the
 * same token. HTTP 409 `ERR_STATE_FENCING_TOKEN_STALE`.
 */
export class FencingTokenStaleError extends SidekickError {
  readonly token: string;
  readonly seen: string;
  readonly resource: string;

  constructor(store: string, resource: string, token: string, seen: string) {
    super(
      'ERR_STATE_FENCING_TOKEN_STALE',
      `state store ${store} rejected the write: fencing token ${token} for resource "${resource}" is older than token ${seen} already written (the lock expired and was granted to another owner)`,
      { component: store, field: 'metadata.fencingToken' },
    );
    this.token = token;
    this.seen = seen;
    this.resource = resource;
  }
}
