import type { SecretScope } from '../../../config/configuration.loader';
import { ConfigError } from '../../../errors/config.errors';

/**
 * `spec.secrets.scopes` of the app's Configuration, per store, with daprd's precedence
 * (`SecretsScope.IsSecretAllowed` in dapr/pkg/config):
 * 1. a non-empty `allowedSecrets` decides alone: only the names it lists (deniedSecrets and
 *    defaultAccess are then not consulted);
 * 2. else a name in `deniedSecrets` is denied;
 * 3. else `defaultAccess` (`allow` unless `deny`).
 * A store with no scope allows every secret. Names match exactly (case-sensitive), as daprd's.
 */
export class SecretScopes {
  private readonly byStore = new Map<string, CompiledScope>();

  constructor(scopes: readonly SecretScope[], source = '(configuration)') {
    for (const [i, scope] of scopes.entries()) {
      if (this.byStore.has(scope.storeName)) {
        throw new ConfigError(`"${scope.storeName}" storeName is repeated in secrets configuration: give each store one scope`, {
          file: source,
          field: `spec.secrets.scopes[${i}].storeName`,
        });
      }
      this.byStore.set(scope.storeName, {
        deny: scope.defaultAccess.toLowerCase() === 'deny',
        allowed: new Set(scope.allowedSecrets),
        denied: new Set(scope.deniedSecrets),
      });
    }
  }

  /** Whether the app may read secret `name` of store `store`. */
  allows(store: string, name: string): boolean {
    const scope = this.byStore.get(store);
    if (!scope) return true;
    if (scope.allowed.size > 0) return scope.allowed.has(name);
    if (scope.denied.has(name)) return false;
    return !scope.deny;
  }

  /** The stores that have a scope (for messages). */
  stores(): string[] {
    return [...this.byStore.keys()];
  }
}

interface CompiledScope {
  readonly deny: boolean;
  readonly allowed: ReadonlySet<string>;
  readonly denied: ReadonlySet<string>;
}
