import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { componentInit } from '../../src/spi/metadata-reader';
import { noopLogger } from '../../test/support/logger';
import { requireVault, vaultAddr, vaultDestroy, vaultToken, vaultWrite } from '../../test/support/services';
import { describeSecretStoreConformance, type SeedSecrets } from '../conformance/secretstore.conformance';
import { VaultSecretStore } from './vault.secret-store';

async function open(metadata: Record<string, string>): Promise<VaultSecretStore> {
  const store = new VaultSecretStore();
  await store.init(
    componentInit({
      name: 'vault',
      type: 'secretstores.hashicorp.vault',
      appId: 'app',
      metadata,
      clock: new VirtualClock(),
      logger: noopLogger,
      source: '(test)',
    }),
  );
  return store;
}

/** A store under its own KV prefix, seeded through Vault's HTTP API; cleanup destroys every secret written. */
async function seededStore(
  secrets: SeedSecrets,
  extra: Record<string, string> = {},
): Promise<{ store: VaultSecretStore; prefix: string; cleanup(): Promise<void> }> {
  await requireVault();
  const prefix = `sidekick-test-${randomUUID().slice(0, 8)}`;
  for (const [name, values] of Object.entries(secrets)) await vaultWrite(`${prefix}/${name}`, values);
  const store = await open({ vaultAddr: vaultAddr(), vaultToken: vaultToken(), vaultKVPrefix: prefix, ...extra });
  return {
    store,
    prefix,
    cleanup: async () => {
      await store.close();
      for (const name of Object.keys(secrets)) await vaultDestroy(`${prefix}/${name}`);
    },
  };
}

let conformancePrefix = '';
describeSecretStoreConformance('secretstores.hashicorp.vault (OpenBao dev server)', {
  multiValued: true,
  async create(secrets) {
    const seeded = await seededStore(secrets);
    conformancePrefix = seeded.prefix;
    return seeded;
  },
  versions: {
    write: (_subject, name, values) => vaultWrite(`${conformancePrefix}/${name}`, values),
  },
});

describe('secretstores.hashicorp.vault', () => {
  beforeAll(() => requireVault());

  it('reads secrets in folders (names with "/") and lists them recursively in bulk', async () => {
    const s = await seededStore({ 'app/db': { password: 'p1' }, 'app/nested/deep': { k: 'v' }, top: { t: '1' } });
    try {
      await expect(s.store.getSecret('app/db')).resolves.toEqual({ password: 'p1' });
      await expect(s.store.getSecret('app/nested/deep')).resolves.toEqual({ k: 'v' });
      expect(await s.store.bulkGetSecret()).toEqual({ 'app/db': { password: 'p1' }, 'app/nested/deep': { k: 'v' }, top: { t: '1' } });
    } finally {
      await s.cleanup();
    }
  });

  it('vaultKVUsePrefix false reads from the engine root; enginePath picks the mount', async () => {
    const name = `sidekick-test-root-${randomUUID().slice(0, 8)}`;
    await vaultWrite(name, { v: 'root-level' });
    try {
      const store = await open({ vaultAddr: vaultAddr(), vaultToken: vaultToken(), vaultKVUsePrefix: 'false', enginePath: 'secret' });
      await expect(store.getSecret(name)).resolves.toEqual({ v: 'root-level' });
      await store.close();
    } finally {
      await vaultDestroy(name);
    }
  });

  it('vaultValueType text returns the whole data as JSON text under the name; non-string fields are JSON in map mode', async () => {
    const s = await seededStore({ cfg: { a: 'b' } }, { vaultValueType: 'text' });
    try {
      await expect(s.store.getSecret('cfg')).resolves.toEqual({ cfg: '{"a":"b"}' });
      await vaultWrite(`${s.prefix}/cfg`, { n: 5, flag: true });
      const map = await open({ vaultAddr: vaultAddr(), vaultToken: vaultToken(), vaultKVPrefix: s.prefix });
      await expect(map.getSecret('cfg')).resolves.toEqual({ n: '5', flag: 'true' });
      await map.close();
    } finally {
      await s.cleanup();
    }
  });

  it('vaultTokenMountPath reads the token from a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sidekick-vault-'));
    const file = join(dir, 'token');
    writeFileSync(file, `${vaultToken()}\n`);
    const s = await seededStore({ x: { y: 'z' } });
    try {
      const store = await open({ vaultAddr: vaultAddr(), vaultTokenMountPath: file, vaultKVPrefix: s.prefix });
      await expect(store.getSecret('x')).resolves.toEqual({ y: 'z' });
      await store.close();
    } finally {
      await s.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a wrong token is an error carrying Vault's reason, not a missing secret, and never the token", async () => {
    const store = await open({ vaultAddr: vaultAddr(), vaultToken: 'not-the-token-s3cr3t' });
    try {
      const failing = store.getSecret('anything');
      await expect(failing).rejects.toThrow(/Vault answered 403: permission denied/);
      await expect(failing).rejects.not.toThrow(/not-the-token-s3cr3t/);
      await expect(store.bulkGetSecret()).rejects.toThrow(/listing secrets: Vault answered 403/);
    } finally {
      await store.close();
    }
  });

  it('refuses names that would climb out of the KV prefix (".." segments) or are empty', async () => {
    const s = await seededStore({ inside: { v: '1' } });
    await vaultWrite(`${s.prefix}-other/outside`, { v: 'other app' });
    try {
      await expect(s.store.getSecret(`../${s.prefix}-other/outside`)).rejects.toThrow(/invalid secret name/);
      await expect(s.store.getSecret('a/./b')).rejects.toThrow(/invalid secret name/);
      await expect(s.store.getSecret('')).rejects.toThrow(/invalid secret name/);
      await expect(s.store.getSecret('inside')).resolves.toEqual({ v: '1' });
    } finally {
      await s.cleanup();
      await vaultDestroy(`${s.prefix}-other/outside`);
    }
  });

  it('an unreachable server is an error naming the address', async () => {
    const store = await open({ vaultAddr: 'http://127.0.0.1:1', vaultToken: 't' });
    try {
      await expect(store.getSecret('x')).rejects.toThrow(/cannot reach Vault at http:\/\/127\.0\.0\.1:1/);
    } finally {
      await store.close();
    }
  });

  it('bad metadata fails init naming the field: no token, both token forms, bad value type, bad address', async () => {
    await expect(open({ vaultAddr: vaultAddr() })).rejects.toThrow(/vaultToken.*token mount path and token not set/);
    await expect(open({ vaultAddr: vaultAddr(), vaultToken: 't', vaultTokenMountPath: '/x' })).rejects.toThrow(/both set/);
    await expect(open({ vaultAddr: vaultAddr(), vaultToken: 't', vaultValueType: 'yaml' })).rejects.toThrow(/vaultValueType.*map or text/);
    await expect(open({ vaultAddr: 'not a url', vaultToken: 't' })).rejects.toThrow(/vaultAddr.*absolute URL/);
  });
});
