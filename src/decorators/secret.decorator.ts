import { Inject } from '@nestjs/common';
import { getSecretToken } from './constants';

/** One secret asked for by `@Secret(store, name, key)`: the store, the secret's name, and the key in its map. */
export interface SecretRef {
  readonly store: string;
  readonly name: string;
  /** The key in the secret's map (defaults to the name, as a component's `secretKeyRef`). */
  readonly key: string;
}

/**
 * Secrets asked for by `@Secret` so far. Decorators run when their files load, which is before
 * `SidekickModule.forRoot()` is evaluated in the importing module, so forRoot can declare a provider
 * for each. Append-only data, like Reflect metadata; it holds no values.
 */
const requested = new Map<string, SecretRef>();

/** The secrets requested through `@Secret` (read by `SidekickModule.forRoot`). */
export function requestedSecrets(): readonly SecretRef[] {
  return [...requested.values()];
}

/** A `SecretRef` with the key defaulted, checked. */
export function secretRef(store: string, name: string, key?: string): SecretRef {
  for (const [what, value] of [
    ['store', store],
    ['name', name],
    ['key', key ?? name],
  ] as const) {
    if (typeof value !== 'string' || value.length === 0) {
      throw new TypeError(`@Secret(store, name, key?) needs a non-empty ${what}, e.g. @Secret("secretstore", "db-password")`);
    }
  }
  return { store, name, key: key ?? name };
}

/**
 * Injects one secret's value (a string), read once at start-up through the app's secret scopes:
 * `constructor(@Secret('vault', 'db', 'password') private readonly dbPassword: string) {}` or, on a
 * property, `@Secret('localsecretstore', 'API_KEY') private readonly apiKey!: string`. `key` picks
 * the entry of the secret's map and defaults to the name (single-valued stores return
 * `{ [name]: value }`). The app fails to start, naming the store, secret and key, when the store is
 * not loaded, the scopes deny the secret, or it (or its key) does not exist. The plain-function forms
 * are `@Inject(getSecretToken(store, name, key))` and `sidekick.secrets.get(store, name)`.
 */
export function Secret(store: string, name: string, key?: string): PropertyDecorator & ParameterDecorator {
  const ref = secretRef(store, name, key);
  const token = getSecretToken(ref.store, ref.name, ref.key);
  requested.set(token, ref);
  const inject = Inject(token);
  return (target: object, propertyKey: string | symbol | undefined, index?: number): void => {
    if (index === undefined && propertyKey === undefined) {
      throw new TypeError(`@Secret("${ref.store}", "${ref.name}") goes on a constructor parameter or a property`);
    }
    if (index !== undefined && propertyKey !== undefined) {
      throw new TypeError(
        `@Secret("${ref.store}", "${ref.name}") goes on a constructor parameter or a property, not on a parameter of method ${String(propertyKey)}`,
      );
    }
    if (index === undefined) inject(target, propertyKey as string | symbol);
    else inject(target, propertyKey, index);
  };
}
