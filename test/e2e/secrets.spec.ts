import { Controller, Get, Inject, Injectable, Module } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getSecretToken, Secret } from '../../src/decorators';
import { SecretPermissionDeniedError, SecretStoreNotFoundError } from '../../src/errors';
import { SidekickClient } from '../../src/runtime/sidekick.client';
import { SidekickModule } from '../../src/runtime/sidekick.module';
import type { SidekickModuleOptions } from '../../src/runtime/sidekick.options';
import { startApp, tempDir, type TestApp } from '../support/app';
import { requireVault, vaultAddr, vaultDestroy, vaultToken, vaultWrite } from '../support/services';

const RUN = randomUUID().slice(0, 8).toUpperCase();
const ENV = `SKSEC_${RUN}_`;

/** A secrets file, an env store (prefix per run) and a scoped copy of each; the Configuration scopes them. */
function secretsSetup(): Partial<SidekickModuleOptions> {
  const dir = tempDir();
  const file = join(dir, 'secrets.json');
  writeFileSync(file, JSON.stringify({ 'db-password': 'file-pw', nested: { inner: 'n-v' }, other: 'o-v', denied: 'd-v', bulk: 'named-bulk' }));
  process.env[`${ENV}API_KEY`] = 'env-api-key';
  process.env[`${ENV}HIDDEN`] = 'env-hidden';
  return {
    components: [
      { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
      { metadata: { name: 'filestore' }, spec: { type: 'secretstores.local.file', version: 'v1', metadata: [{ name: 'secretsFile', value: file }] } },
      {
        metadata: { name: 'multistore' },
        spec: {
          type: 'secretstores.local.file',
          version: 'v1',
          metadata: [
            { name: 'secretsFile', value: file },
            { name: 'multiValued', value: 'true' },
          ],
        },
      },
      { metadata: { name: 'envstore' }, spec: { type: 'secretstores.local.env', version: 'v1', metadata: [{ name: 'prefix', value: ENV }] } },
      { metadata: { name: 'allowonly' }, spec: { type: 'secretstores.local.file', version: 'v1', metadata: [{ name: 'secretsFile', value: file }] } },
    ],
    config: {
      secrets: {
        scopes: [
          { storeName: 'filestore', defaultAccess: 'allow', deniedSecrets: ['denied'] },
          { storeName: 'envstore', defaultAccess: 'deny', allowedSecrets: ['API_KEY'] },
          // allowedSecrets wins over deniedSecrets and defaultAccess (daprd's precedence)
          { storeName: 'allowonly', defaultAccess: 'allow', allowedSecrets: ['other'], deniedSecrets: ['other'] },
        ],
      },
    },
  };
}

async function get(t: TestApp, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${t.apiUrl}${path}`);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

describe('the secrets API (/v1.0/secrets)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(secretsSetup());
  });
  afterAll(async () => {
    await t.close();
    delete process.env[`${ENV}API_KEY`];
    delete process.env[`${ENV}HIDDEN`];
  });

  it('GET {store}/{key} answers the secret map', async () => {
    await expect(get(t, '/v1.0/secrets/filestore/db-password')).resolves.toEqual({ status: 200, body: { 'db-password': 'file-pw' } });
    await expect(get(t, '/v1.0/secrets/filestore/nested:inner')).resolves.toEqual({ status: 200, body: { 'nested:inner': 'n-v' } });
    await expect(get(t, '/v1.0/secrets/multistore/nested')).resolves.toEqual({ status: 200, body: { inner: 'n-v' } });
    await expect(get(t, '/v1.0/secrets/envstore/API_KEY')).resolves.toEqual({ status: 200, body: { API_KEY: 'env-api-key' } });
  });

  it('passes metadata.* query parameters to the store (ignored by local stores)', async () => {
    await expect(get(t, '/v1.0/secrets/filestore/db-password?metadata.namespace=default&metadata.version_id=1')).resolves.toEqual({
      status: 200,
      body: { 'db-password': 'file-pw' },
    });
  });

  it('GET {store}/bulk answers every secret the scopes allow; denied ones are left out', async () => {
    const bulk = await get(t, '/v1.0/secrets/filestore/bulk');
    expect(bulk.status).toBe(200);
    expect(bulk.body).toEqual({
      'db-password': { 'db-password': 'file-pw' },
      'nested:inner': { 'nested:inner': 'n-v' },
      other: { other: 'o-v' },
      bulk: { bulk: 'named-bulk' },
    });
    await expect(get(t, '/v1.0/secrets/envstore/bulk')).resolves.toEqual({ status: 200, body: { API_KEY: { API_KEY: 'env-api-key' } } });
    await expect(get(t, '/v1.0/secrets/allowonly/bulk')).resolves.toEqual({ status: 200, body: { other: { other: 'o-v' } } });
  });

  it('a secret denied by the scopes is 403 ERR_PERMISSION_DENIED (deniedSecrets, defaultAccess deny, allowedSecrets)', async () => {
    for (const path of ['/v1.0/secrets/filestore/denied', '/v1.0/secrets/envstore/HIDDEN', '/v1.0/secrets/allowonly/db-password']) {
      const res = await get(t, path);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ errorCode: 'ERR_PERMISSION_DENIED', message: expect.stringMatching(/^access denied by policy to get ".+" from ".+"$/) });
    }
  });

  it('an unknown store is 401 ERR_SECRET_STORE_NOT_FOUND, as daprd', async () => {
    const res = await get(t, '/v1.0/secrets/nostore/x');
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({
      errorCode: 'ERR_SECRET_STORE_NOT_FOUND',
      message: expect.stringContaining('failed finding secret store with key nostore'),
    });
    await expect(get(t, '/v1.0/secrets/nostore/bulk')).resolves.toMatchObject({ status: 401, body: { errorCode: 'ERR_SECRET_STORE_NOT_FOUND' } });
  });

  it("a missing secret is 500 ERR_SECRET_GET naming it (daprd's file and Vault stores)", async () => {
    await expect(get(t, '/v1.0/secrets/filestore/nope')).resolves.toEqual({
      status: 500,
      body: { errorCode: 'ERR_SECRET_GET', message: 'failed getting secret with key nope from secret store filestore: secret nope not found' },
    });
    await expect(get(t, `/v1.0/secrets/envstore/API_KEY_NOT_SET`)).resolves.toMatchObject({ status: 403 }); // scope first, as daprd
  });

  it('the secret named "bulk" is the bulk route, as in daprd', async () => {
    const res = await get(t, '/v1.0/secrets/filestore/bulk');
    expect(res.body).toHaveProperty('bulk', { bulk: 'named-bulk' });
  });

  it('SidekickClient.secrets takes the same path: values, metadata, bulk, typed errors', async () => {
    const client = t.app.get(SidekickClient);
    await expect(client.secrets.get('filestore', 'db-password')).resolves.toEqual({ 'db-password': 'file-pw' });
    await expect(client.secrets.get('filestore', 'db-password', { namespace: 'x' })).resolves.toEqual({ 'db-password': 'file-pw' });
    await expect(client.secrets.getBulk('envstore')).resolves.toEqual({ API_KEY: { API_KEY: 'env-api-key' } });
    await expect(client.secrets.get('filestore', 'denied')).rejects.toBeInstanceOf(SecretPermissionDeniedError);
    await expect(client.secrets.get('nostore', 'x')).rejects.toBeInstanceOf(SecretStoreNotFoundError);
    await expect(client.secrets.get('filestore', 'nope')).rejects.toMatchObject({ code: 'ERR_SECRET_GET', retryable: false });
  });
});

describe('the secrets API with no secret store', () => {
  it('answers 500 ERR_SECRET_STORES_NOT_CONFIGURED', async () => {
    const t = await startApp();
    try {
      await expect(get(t, '/v1.0/secrets/any/x')).resolves.toEqual({
        status: 500,
        body: { errorCode: 'ERR_SECRET_STORES_NOT_CONFIGURED', message: 'secret store is not configured' },
      });
      await expect(get(t, '/v1.0/secrets/any/bulk')).resolves.toMatchObject({ status: 500, body: { errorCode: 'ERR_SECRET_STORES_NOT_CONFIGURED' } });
    } finally {
      await t.close();
    }
  });
});

@Injectable()
class UsesSecrets {
  @Secret('multistore', 'nested', 'inner') readonly property!: string;
  constructor(
    @Secret('filestore', 'db-password') readonly dbPassword: string,
    @Secret('envstore', 'API_KEY') readonly apiKey: string,
  ) {}
}

@Controller()
class SecretController {
  constructor(@Secret('filestore', 'other') private readonly other: string) {}
  @Get('other')
  read(): string {
    return this.other;
  }
}

describe('@Secret injection', () => {
  afterAll(() => {
    delete process.env[`${ENV}API_KEY`];
    delete process.env[`${ENV}HIDDEN`];
  });

  it('injects values into constructor parameters and properties at start-up', async () => {
    const t = await startApp(secretsSetup(), { providers: [UsesSecrets], controllers: [SecretController] });
    try {
      const uses = t.app.get(UsesSecrets);
      expect(uses.dbPassword).toBe('file-pw');
      expect(uses.apiKey).toBe('env-api-key');
      expect(uses.property).toBe('n-v');
      await expect(fetch(`${t.appUrl}/other`).then((r) => r.text())).resolves.toBe('o-v');
    } finally {
      await t.close();
    }
  });

  const failing = async (provider: new (...args: never[]) => unknown): Promise<unknown> => {
    @Module({ providers: [provider] })
    class FeatureModule {}
    return startApp(secretsSetup(), { imports: [FeatureModule] }).then(
      async (t) => {
        await t.close();
        throw new Error('start-up should have failed');
      },
      (err: unknown) => err,
    );
  };

  it('fails start-up naming the store, secret and key: missing secret, missing key, denied, unknown store', async () => {
    @Injectable()
    class Missing {
      constructor(@Secret('filestore', 'no-such-secret') readonly v: string) {}
    }
    @Injectable()
    class MissingKey {
      constructor(@Secret('multistore', 'nested', 'nokey') readonly v: string) {}
    }
    @Injectable()
    class Denied {
      constructor(@Secret('filestore', 'denied') readonly v: string) {}
    }
    @Injectable()
    class UnknownStore {
      constructor(@Secret('vaultx', 'db') readonly v: string) {}
    }
    expect(String(await failing(Missing))).toMatch(
      /@Secret\("filestore", "no-such-secret"\): secret "no-such-secret" was not found in secret store "filestore"/,
    );
    expect(String(await failing(MissingKey))).toMatch(
      /@Secret\("multistore", "nested", "nokey"\): secret "nested" of store "multistore" has no key "nokey" \(its keys: inner\)/,
    );
    expect(String(await failing(Denied))).toMatch(
      /@Secret\("filestore", "denied"\): secret "denied" of store "filestore" is denied by the Configuration's spec\.secrets\.scopes/,
    );
    expect(String(await failing(UnknownStore))).toMatch(
      /@Secret\("vaultx", "db"\): failed finding secret store with key vaultx \(configured secret stores: filestore, multistore, envstore, allowonly\)/,
    );
  });

  it('SidekickModule.forFeature({ secrets }) declares them explicitly, for @Inject(getSecretToken(...))', async () => {
    @Injectable()
    class ByToken {
      constructor(@Inject(getSecretToken('multistore', 'nested', 'inner')) readonly inner: string) {}
    }
    @Module({ imports: [SidekickModule.forFeature({ secrets: [{ store: 'multistore', name: 'nested', key: 'inner' }] })], providers: [ByToken] })
    class FeatureModule {}
    const t = await startApp(secretsSetup(), { imports: [FeatureModule] });
    try {
      expect(t.app.get(ByToken).inner).toBe('n-v');
    } finally {
      await t.close();
    }
  });
});

describe('component secretKeyRef and the scopes', () => {
  it('resolves a secretKeyRef the scopes deny to the app (daprd does not apply them to components)', async () => {
    const setup = secretsSetup();
    const t = await startApp({
      ...setup,
      components: [
        ...(setup.components ?? []),
        {
          metadata: { name: 'scopedstate' },
          spec: { type: 'state.in-memory', version: 'v1', metadata: [{ name: 'keyPrefix', secretKeyRef: { name: 'denied' } }] },
          auth: { secretStore: 'filestore' },
        },
      ],
    });
    try {
      const client = t.app.get(SidekickClient);
      await client.state('scopedstate').save('k', 1);
      await expect(get(t, '/v1.0/secrets/filestore/denied')).resolves.toMatchObject({ status: 403 });
      await expect(client.state('scopedstate').get('k')).resolves.toBe(1);
    } finally {
      await t.close();
    }
  });
});

describe('the secrets API on Vault (OpenBao dev server)', () => {
  const prefix = `sidekick-e2e-${RUN.toLowerCase()}`;
  beforeAll(async () => {
    await requireVault();
    await vaultWrite(`${prefix}/db`, { user: 'u1', password: 'v1' });
    await vaultWrite(`${prefix}/db`, { user: 'u2', password: 'v2' });
    await vaultWrite(`${prefix}/team/app`, { token: 'tt' });
  });
  afterAll(async () => {
    await vaultDestroy(`${prefix}/db`);
    await vaultDestroy(`${prefix}/team/app`);
  });

  it('serves Vault secrets with metadata.version_id, keys with "/", bulk and injection', async () => {
    @Injectable()
    class FromVault {
      constructor(@Secret('vault', 'db', 'password') readonly password: string) {}
    }
    const t = await startApp(
      {
        components: [
          { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
          {
            metadata: { name: 'vault' },
            spec: {
              type: 'secretstores.hashicorp.vault',
              version: 'v1',
              metadata: [
                { name: 'vaultAddr', value: vaultAddr() },
                { name: 'vaultToken', value: vaultToken() },
                { name: 'vaultKVPrefix', value: prefix },
              ],
            },
          },
        ],
      },
      { providers: [FromVault] },
    );
    try {
      expect(t.app.get(FromVault).password).toBe('v2');
      await expect(get(t, '/v1.0/secrets/vault/db')).resolves.toEqual({ status: 200, body: { user: 'u2', password: 'v2' } });
      await expect(get(t, '/v1.0/secrets/vault/db?metadata.version_id=1')).resolves.toEqual({ status: 200, body: { user: 'u1', password: 'v1' } });
      await expect(get(t, '/v1.0/secrets/vault/team/app')).resolves.toEqual({ status: 200, body: { token: 'tt' } });
      await expect(get(t, '/v1.0/secrets/vault/team%2Fapp')).resolves.toEqual({ status: 200, body: { token: 'tt' } });
      await expect(get(t, '/v1.0/secrets/vault/bulk')).resolves.toEqual({
        status: 200,
        body: { db: { user: 'u2', password: 'v2' }, 'team/app': { token: 'tt' } },
      });
      await expect(get(t, '/v1.0/secrets/vault/missing')).resolves.toMatchObject({ status: 500, body: { errorCode: 'ERR_SECRET_GET' } });
    } finally {
      await t.close();
    }
  });
});
