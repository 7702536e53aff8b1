import type { SidekickConfiguration } from '../../../config/configuration.loader';
import type { SecretRef } from '../../../decorators/secret.decorator';
import { ConfigError } from '../../../errors/config.errors';
import {
  SecretGetError,
  SecretNotFoundError,
  SecretPermissionDeniedError,
  SecretStoreNotFoundError,
  SecretStoresNotConfiguredError,
} from '../../../errors/secret.errors';
import { errorMessage, isSidekickError } from '../../../errors/sidekick.error';
import type { SecretMetadata, SecretStore } from '../../../spi/secret.store';
import type { ComponentLookup, FoundComponent } from '../../components/component.lookup';
import { SecretScopes } from './secret-scopes';

/** A secret: its key/value map (one entry for single-valued stores, `{ [name]: value }`). */
export type SecretValues = Readonly<Record<string, string>>;

/**
 * The secrets building block: reads a secret store through the app's secret scopes. The HTTP API,
 * `SidekickClient.secrets` and `@Secret` injection all come here. Errors name the store, secret and
 * key, never a value.
 */
export class SecretsService {
  private scopes?: SecretScopes;
  /** `@Secret` values, read once per app whatever the number of providers injecting them. */
  private readonly injected = new Map<string, Promise<string>>();

  constructor(
    private readonly stores: ComponentLookup<SecretStore>,
    private readonly configuration: () => SidekickConfiguration,
  ) {}

  /** Names of the loaded secret stores. */
  storeNames(): string[] {
    return this.stores.names();
  }

  /** The scope rules of the Configuration (read once, when first needed: from module init on). */
  rules(): SecretScopes {
    if (!this.scopes) {
      const config = this.configuration();
      this.scopes = new SecretScopes(config.secretScopes, config.source);
    }
    return this.scopes;
  }

  /** Whether the Configuration's scopes let the app read this secret. */
  allows(store: string, name: string): boolean {
    return this.rules().allows(store, name);
  }

  /**
   * One secret, as daprd's `GetSecret`: unknown store → `SecretStoreNotFoundError` (401), denied by
   * scope → `SecretPermissionDeniedError` (403), missing → `SecretNotFoundError`, store failure →
   * `SecretGetError` (500).
   */
  async get(store: string, name: string, metadata: SecretMetadata = {}): Promise<SecretValues> {
    const found = await this.find(store);
    if (!this.allows(store, name)) throw new SecretPermissionDeniedError(store, name);
    let secret: SecretValues | undefined;
    try {
      secret = await found.component.getSecret(name, metadata);
    } catch (err) {
      throw asSecretError(err, store, name);
    }
    if (secret === undefined) throw new SecretNotFoundError(store, name);
    return secret;
  }

  /** Every secret the scopes allow (the others are left out, as daprd does), name to key/value map. */
  async getBulk(store: string, metadata: SecretMetadata = {}): Promise<Record<string, SecretValues>> {
    const found = await this.find(store);
    let all: Readonly<Record<string, SecretValues>>;
    try {
      all = await found.component.bulkGetSecret(metadata);
    } catch (err) {
      throw asSecretError(err, store, undefined);
    }
    const rules = this.rules();
    const out: Record<string, SecretValues> = {};
    for (const [name, values] of Object.entries(all)) if (rules.allows(store, name)) out[name] = values;
    return out;
  }

  /**
   * The value `@Secret(store, name, key)` injects, read while the app starts (components are
   * initialised, the runtime is not ready yet). Any problem is a `ConfigError` naming the store,
   * secret and key, so start-up fails saying which secret is wrong.
   */
  resolveAtStartup(ref: SecretRef): Promise<string> {
    const id = JSON.stringify([ref.store, ref.name, ref.key]);
    let value = this.injected.get(id);
    if (!value) {
      value = this.readForInjection(ref);
      this.injected.set(id, value);
    }
    return value;
  }

  private async readForInjection(ref: SecretRef): Promise<string> {
    const where = `@Secret("${ref.store}", "${ref.name}"${ref.key === ref.name ? '' : `, "${ref.key}"`})`;
    const context = { component: ref.store };
    let found: FoundComponent<SecretStore>;
    try {
      found = this.stores.get(ref.store);
    } catch (err) {
      throw new ConfigError(`${where}: ${errorMessage(err)}`, context);
    }
    if (!this.allows(ref.store, ref.name)) {
      throw new ConfigError(`${where}: secret "${ref.name}" of store "${ref.store}" is denied by the Configuration's spec.secrets.scopes`, context);
    }
    let secret: SecretValues | undefined;
    try {
      secret = await found.component.getSecret(ref.name);
    } catch (err) {
      throw new ConfigError(`${where}: reading secret "${ref.name}" from store "${ref.store}" failed: ${errorMessage(err)}`, context);
    }
    if (secret === undefined) throw new ConfigError(`${where}: secret "${ref.name}" was not found in secret store "${ref.store}"`, context);
    const value = secret[ref.key];
    if (value === undefined) {
      throw new ConfigError(
        `${where}: secret "${ref.name}" of store "${ref.store}" has no key "${ref.key}" (its keys: ${Object.keys(secret).join(', ') || 'none'})`,
        context,
      );
    }
    return value;
  }

  private async find(store: string): Promise<FoundComponent<SecretStore>> {
    return this.stores.now(store) ?? (await this.stores.later(store));
  }
}

/** The lookup's not-found error: none configured at all (500) or not this one (401), as daprd. */
export function secretStoreNotFound(name: string, known: readonly string[]): Error {
  return known.length === 0 ? new SecretStoresNotConfiguredError() : new SecretStoreNotFoundError(name, known);
}

function asSecretError(err: unknown, store: string, name: string | undefined): Error {
  if (isSidekickError(err) && err.code.startsWith('ERR_SECRET')) return err;
  return new SecretGetError(store, name, errorMessage(err), err);
}
