import { SidekickError } from './sidekick.error';

/** The stored item's etag differs from the one given (or first-write found an existing key). Dapr: 409. */
export class ETagMismatchError extends SidekickError {
  constructor(component: string, key: string) {
    super('ERR_ETAG_MISMATCH', `possible etag mismatch: state store ${component} rejected the write of key "${key}"`, {
      component,
    });
  }
}

/** The etag given is not one this store could have produced. Dapr: 400. */
export class ETagInvalidError extends SidekickError {
  constructor(component: string, etag: string) {
    super('ERR_ETAG_INVALID', `invalid etag value "${etag}" for state store ${component}`, { component });
  }
}

export class StateStoreNotFoundError extends SidekickError {
  constructor(name: string, known: readonly string[]) {
    super('ERR_STATE_STORE_NOT_FOUND', `state store ${name} is not found (configured state stores: ${known.length > 0 ? known.join(', ') : 'none'})`, {
      component: name,
    });
  }
}

export class IllegalKeyError extends SidekickError {
  constructor(key: string) {
    super('ERR_MALFORMED_REQUEST', `input key/keyPrefix '${key}' can't contain '||'`, { field: 'key', reason: 'DAPR_STATE_ILLEGAL_KEY' });
  }
}

export class TransactionsNotSupportedError extends SidekickError {
  constructor(component: string) {
    super('ERR_STATE_STORE_NOT_SUPPORTED', `state store ${component} doesn't support transactions`, { component });
  }
}
