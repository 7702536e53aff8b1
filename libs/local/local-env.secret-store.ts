import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SecretStore } from '../../src/spi/secret.store';

/**
 * `secretstores.local.env`: secrets are this process's environment variables. Metadata `prefix`
 * limits the store to variables that start with it; names are given and returned without it.
 * As daprd's, variables named `DAPR_*` (the API token among them) and `APP_API_TOKEN` are never
 * served (case-insensitively). A variable that is not set is a missing secret (daprd answers its
 * name with an empty value).
 */
export class LocalEnvSecretStore implements SecretStore {
  private prefix = '';

  async init(init: ComponentInit): Promise<void> {
    this.prefix = init.meta.text('prefix', '');
  }

  async close(): Promise<void> {}

  async getSecret(name: string): Promise<Readonly<Record<string, string>> | undefined> {
    const variable = this.prefix + name;
    if (!allowed(variable)) return undefined;
    const value = process.env[variable];
    return value === undefined ? undefined : { [name]: value };
  }

  async bulkGetSecret(): Promise<Readonly<Record<string, Readonly<Record<string, string>>>>> {
    const all: Record<string, Record<string, string>> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value === undefined || !key.startsWith(this.prefix) || key.length === this.prefix.length || !allowed(key)) continue;
      const name = key.slice(this.prefix.length);
      all[name] = { [name]: value };
    }
    return all;
  }
}

/** daprd's deny list for environment secrets: its own variables and the app's API token. */
function allowed(variable: string): boolean {
  const upper = variable.toUpperCase();
  return upper !== 'APP_API_TOKEN' && !upper.startsWith('DAPR_');
}

export const localEnvSecretStoreFactory: ComponentFactory<LocalEnvSecretStore> = {
  type: 'secretstores.local.env',
  kind: 'secretstores',
  versions: ['v1'],
  create: () => new LocalEnvSecretStore(),
};
