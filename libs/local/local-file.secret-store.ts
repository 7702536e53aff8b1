import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SecretStore } from '../../src/spi/secret.store';

type Secrets = Record<string, Record<string, string>>;

/**
 * `secretstores.local.file`: secrets from a JSON file (`secretsFile`, relative to the working
 * directory), read once at init. As daprd's: nested objects and arrays are flattened into one secret
 * per leaf, names joined with `nestedSeparator` (default `:`; `{"db":{"password":"x"}}` is the secret
 * `db:password` = `{ "db:password": "x" }`). With `multiValued: "true"` each top-level key is one
 * secret: a string is `{ [name]: value }`, an object is its leaves flattened the same way
 * (`{"db":{"user":"u","password":"p"}}` is the secret `db` = `{ user: "u", password: "p" }`).
 * Leaves that are numbers, booleans or null become their JSON text (daprd prints Go's `%s` of them).
 */
export class LocalFileSecretStore implements SecretStore {
  private secrets: Secrets = {};

  async init(init: ComponentInit): Promise<void> {
    const meta = init.meta;
    const file = meta.required('secretsFile', 'path to a JSON file of secrets');
    const separator = meta.raw('nestedSeparator') || ':'; // empty means the default, as daprd
    const multiValued = meta.bool('multiValued', false);
    const path = isAbsolute(file) ? file : resolve(process.cwd(), file);
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch (err) {
      throw meta.error('secretsFile', `cannot read secrets file ${path}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch (err) {
      // V8's message quotes the text around the fault, which may be a secret: keep the position only.
      const at = /position (\d+)/.exec((err as Error).message)?.[1];
      throw meta.error('secretsFile', `secrets file ${path} is not valid JSON${at === undefined ? '' : ` (at character ${at})`}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw meta.error('secretsFile', `secrets file ${path} must hold a JSON object`);
    }
    this.secrets = {};
    if (multiValued) {
      for (const [name, value] of Object.entries(parsed)) {
        this.secrets[name] = typeof value === 'object' && value !== null ? flatten(value, separator) : { [name]: String(value) };
      }
    } else {
      for (const [name, value] of Object.entries(flatten(parsed, separator))) this.secrets[name] = { [name]: value };
    }
  }

  async close(): Promise<void> {}

  async getSecret(name: string): Promise<Readonly<Record<string, string>> | undefined> {
    return this.secrets[name];
  }

  async bulkGetSecret(): Promise<Readonly<Record<string, Readonly<Record<string, string>>>>> {
    return this.secrets;
  }
}

function flatten(value: object, separator: string, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const [key, inner] of Object.entries(value)) {
    const name = prefix ? `${prefix}${separator}${key}` : key;
    if (typeof inner === 'object' && inner !== null) flatten(inner, separator, name, out);
    else out[name] = String(inner);
  }
  return out;
}

export const localFileSecretStoreFactory: ComponentFactory<LocalFileSecretStore> = {
  type: 'secretstores.local.file',
  kind: 'secretstores',
  versions: ['v1'],
  create: () => new LocalFileSecretStore(),
};
