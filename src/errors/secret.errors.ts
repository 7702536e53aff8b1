import { SidekickError } from './sidekick.error';

/**
 * Secret errors carry names only (store, secret, key), never a secret's value: their messages reach
 * logs and HTTP error bodies.
 */

/** The app has no secret store at all. daprd: 500 `ERR_SECRET_STORES_NOT_CONFIGURED`. */
export class SecretStoresNotConfiguredError extends SidekickError {
  constructor() {
    super('ERR_SECRET_STORES_NOT_CONFIGURED', 'secret store is not configured');
  }
}

/** No secret store of that name. daprd answers 401 (not 400/404: its code and tests agree). */
export class SecretStoreNotFoundError extends SidekickError {
  constructor(name: string, known: readonly string[]) {
    super(
      'ERR_SECRET_STORE_NOT_FOUND',
      `failed finding secret store with key ${name} (configured secret stores: ${known.length > 0 ? known.join(', ') : 'none'})`,
      {
        component: name,
      },
    );
  }
}

/** `spec.secrets.scopes` of the Configuration denies this secret. daprd: 403 `ERR_PERMISSION_DENIED`. */
export class SecretPermissionDeniedError extends SidekickError {
  constructor(store: string, name: string) {
    super('ERR_PERMISSION_DENIED', `access denied by policy to get ${JSON.stringify(name)} from ${JSON.stringify(store)}`, { component: store });
  }
}

/** The store has no secret of that name (daprd's file and Vault stores fail the get: 500 `ERR_SECRET_GET`). */
export class SecretNotFoundError extends SidekickError {
  constructor(store: string, name: string) {
    super('ERR_SECRET_GET', `failed getting secret with key ${name} from secret store ${store}: secret ${name} not found`, {
      component: store,
      retryable: false,
    });
  }
}

/** The store failed (unreachable, refused, bad answer). 500 `ERR_SECRET_GET`. */
export class SecretGetError extends SidekickError {
  constructor(store: string, name: string | undefined, reason: string, cause?: unknown) {
    super(
      'ERR_SECRET_GET',
      name === undefined
        ? `failed getting secrets from secret store ${store}: ${reason}`
        : `failed getting secret with key ${name} from secret store ${store}: ${reason}`,
      { component: store, cause },
    );
  }
}
