import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SecretStore } from '../../src/spi/secret.store';

/**
 * `secretstores.local.env`: secrets are this process's environment variables. Metadata `prefix`
 * limits the store to variables that start with it; names are given and returned without it.
 */
export class LocalEnvSecretStore implements SecretStore {
  private prefix = '';

  async init(init: ComponentInit): Promise<void> {
    this.prefix = init.meta.text('prefix', '');
  }

  async close(): Promise<void> {}

  async getSecret(name: string): Promise<Readonly<Record<string, string>> | undefined> {
    const value = process.env[this.prefix + name];
    return value === undefined ? undefined : { [name]: value };
  }

  async bulkGetSecret(): Promise<Readonly<Record<string, Readonly<Record<string, string>>>>> {
    const all: Record<string, Record<string, string>> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value === undefined || !key.startsWith(this.prefix)) continue;
      const name = key.slice(this.prefix.length);
      all[name] = { [name]: value };
    }
    return all;
  }
}

export const localEnvSecretStoreFactory: ComponentFactory<LocalEnvSecretStore> = {
  type: 'secretstores.local.env',
  kind: 'secretstores',
  versions: ['v1'],
  create: () => new LocalEnvSecretStore(),
};
