import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent, request as undiciRequest } from 'undici';
import { errorMessage } from '../../src/errors/sidekick.error';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SecretMetadata, SecretStore } from '../../src/spi/secret.store';

const DEFAULT_ADDRESS = 'https://127.0.0.1:8200';
const CONNECT_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 30_000;

type Secret = Readonly<Record<string, string>>;

/**
 * `secretstores.hashicorp.vault`: HashiCorp Vault's (or OpenBao's) KV version 2 engine over its HTTP
 * API, with daprd's metadata: `vaultAddr` (default `https://127.0.0.1:8200`), `vaultToken` or
 * `vaultTokenMountPath` (a file holding the token; exactly one of the two), `enginePath` (`secret`),
 * `vaultKVPrefix` (`dapr`) and `vaultKVUsePrefix` (`true`): secret `db` is read from
 * `/v1/secret/data/dapr/db`; `vaultValueType` `map` (the secret's fields) or `text` (the whole data
 * as JSON text under the secret's name); TLS: `caPem`, `caCert` (file), `caPath` (folder),
 * `skipVerify`, `tlsServerName`. Request metadata `version_id` reads that version (default: latest).
 * Bulk lists the prefix recursively (a `LIST` per folder) and reads each secret (a version that
 * does not exist is skipped).
 */
export class VaultSecretStore implements SecretStore {
  private name = 'vault';
  private address = DEFAULT_ADDRESS;
  private token = '';
  private engine = 'secret';
  private prefix = 'dapr';
  private text = false;
  private agent?: Agent;
  private request?: typeof undiciRequest;

  async init(init: ComponentInit): Promise<void> {
    const meta = init.meta;
    this.name = init.name;
    this.address = (meta.text('vaultAddr') || DEFAULT_ADDRESS).replace(/\/+$/, '');
    try {
      new URL(this.address);
    } catch {
      throw meta.error('vaultAddr', `"${this.address}" is not an absolute URL (e.g. http://127.0.0.1:8200)`);
    }
    this.engine = (meta.text('enginePath') || 'secret').replace(/^\/+|\/+$/g, '');
    const valueType = meta.text('vaultValueType') || 'map';
    if (valueType !== 'map' && valueType !== 'text') throw meta.error('vaultValueType', `invalid value type ${valueType}, accepted values are map or text`);
    this.text = valueType === 'text';
    this.token = readToken(init);
    const usePrefix = meta.bool('vaultKVUsePrefix', true) ?? true;
    this.prefix = usePrefix ? (meta.text('vaultKVPrefix') || 'dapr').replace(/^\/+|\/+$/g, '') : '';

    const skipVerify = meta.bool('skipVerify', false) ?? false;
    const serverName = meta.text('tlsServerName') || undefined;
    const ca = skipVerify ? undefined : readCa(init);
    if (skipVerify) init.logger.warn({ component: init.name }, 'hashicorp vault: skipVerify is set: the server certificate is not verified (unsafe)');
    // Loaded on first use: an app without a Vault store never pays for undici.
    const undici = await import('undici');
    this.request = undici.request;
    this.agent = new undici.Agent({
      connect: { timeout: CONNECT_TIMEOUT_MS, rejectUnauthorized: !skipVerify, ...(ca ? { ca } : {}), ...(serverName ? { servername: serverName } : {}) },
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
  }

  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    await agent?.close();
  }

  async getSecret(name: string, metadata: SecretMetadata = {}): Promise<Secret | undefined> {
    // `.`/`..` segments would be resolved in the URL and could climb out of the KV prefix (another app's secrets).
    if (name.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
      throw new Error(`invalid secret name "${name}": use path segments that are not empty, "." or ".."`);
    }
    return this.read(name, metadata['version_id'] ?? '0');
  }

  async bulkGetSecret(metadata: SecretMetadata = {}): Promise<Readonly<Record<string, Secret>>> {
    const version = metadata['version_id'] ?? '0';
    const out: Record<string, Secret> = {};
    for (const name of await this.list('')) {
      const secret = await this.read(name, version);
      if (secret !== undefined) out[name] = secret; // a version that does not exist is skipped, as daprd
    }
    return out;
  }

  private async read(name: string, version: string): Promise<Secret | undefined> {
    const res = await this.call(`${this.engine}/data/${this.path(name)}?version=${encodeURIComponent(version)}`, `reading secret ${name}`);
    if (res.status === 404) return undefined;
    const data = (res.body as { data?: { data?: unknown } } | undefined)?.data?.data;
    if (data === null || data === undefined) return undefined; // a deleted or destroyed version
    if (this.text) return { [name]: JSON.stringify(data) };
    if (typeof data !== 'object' || Array.isArray(data)) throw new Error(`reading secret ${name}: Vault answered data that is not an object`);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(data)) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
    return out;
  }

  /** Every secret name under `folder` (relative to the prefix), recursively. */
  private async list(folder: string): Promise<string[]> {
    // Vault's LIST, as `GET ?list=true` (the same operation; undici sends standard methods only).
    const res = await this.call(`${this.engine}/metadata/${this.path(folder)}?list=true`, 'listing secrets');
    if (res.status === 404) return []; // nothing under this path yet
    const keys = (res.body as { data?: { keys?: unknown } } | undefined)?.data?.keys;
    if (!Array.isArray(keys)) throw new Error('listing secrets: Vault answered no key list');
    const names: string[] = [];
    for (const key of keys) {
      if (typeof key !== 'string') continue;
      if (key.endsWith('/')) names.push(...(await this.list(folder + key)));
      else names.push(folder + key);
    }
    return names;
  }

  /** `prefix/name`, each segment URL-encoded. */
  private path(name: string): string {
    const full = this.prefix ? (name ? `${this.prefix}/${name}` : `${this.prefix}/`) : name;
    return full
      .split('/')
      .map((segment) => encodeURIComponent(segment))
      .join('/');
  }

  /**
   * One Vault API call. 200 and 404 are answers; anything else throws with Vault's `errors` strings
   * (never the response body as such, which could hold secret data).
   */
  private async call(path: string, what: string): Promise<{ status: number; body: unknown }> {
    const request = this.request;
    const agent = this.agent;
    if (!request || !agent) throw new Error(`secret store ${this.name} is closed`);
    let res: Awaited<ReturnType<typeof undiciRequest>>;
    try {
      res = await request(`${this.address}/v1/${path}`, {
        method: 'GET',
        dispatcher: agent,
        headers: { 'x-vault-token': this.token, 'x-vault-request': 'true' },
      });
    } catch (err) {
      throw new Error(`${what}: cannot reach Vault at ${this.address}: ${errorMessage(err)}`);
    }
    const text = await res.body.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (res.statusCode === 200) return { status: 200, body };
    const errors = (body as { errors?: unknown } | undefined)?.errors;
    // KV v2 answers 404 with an empty `errors` list for a missing secret or version.
    if (res.statusCode === 404 && (!Array.isArray(errors) || errors.length === 0)) return { status: 404, body };
    const reasons = Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string').map((e) => e.slice(0, 200)) : [];
    throw new Error(`${what}: Vault answered ${res.statusCode}${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}`);
  }
}

function readToken(init: ComponentInit): string {
  const meta = init.meta;
  const token = meta.text('vaultToken') || '';
  const mountPath = meta.text('vaultTokenMountPath') || '';
  if (!token && !mountPath) throw meta.error('vaultToken', 'token mount path and token not set: give vaultToken or vaultTokenMountPath');
  if (token && mountPath) throw meta.error('vaultTokenMountPath', 'token mount path and token both set: give only one of vaultToken and vaultTokenMountPath');
  if (token) return token;
  try {
    return readFileSync(mountPath, 'utf8').trim();
  } catch (err) {
    throw meta.error('vaultTokenMountPath', `couldn't read vault token from mount path ${mountPath}: ${errorMessage(err)}`);
  }
}

/** The CA certificates to trust (`caPem`, else `caCert`, else every file in `caPath`), or the system's. */
function readCa(init: ComponentInit): string[] | undefined {
  const meta = init.meta;
  const pem = meta.text('caPem');
  if (pem) return [pem];
  const file = meta.text('caCert');
  if (file) {
    try {
      return [readFileSync(file, 'utf8')];
    } catch (err) {
      throw meta.error('caCert', `couldn't read CA file from disk: ${errorMessage(err)}`);
    }
  }
  const folder = meta.text('caPath');
  if (folder) {
    try {
      return readdirSync(folder)
        .map((f) => join(folder, f))
        .filter((f) => statSync(f).isFile())
        .map((f) => readFileSync(f, 'utf8'));
    } catch (err) {
      throw meta.error('caPath', `couldn't read certificates at ${folder}: ${errorMessage(err)}`);
    }
  }
  return undefined;
}

export const vaultSecretStoreFactory: ComponentFactory<VaultSecretStore> = {
  type: 'secretstores.hashicorp.vault',
  kind: 'secretstores',
  versions: ['v1'],
  create: () => new VaultSecretStore(),
};
