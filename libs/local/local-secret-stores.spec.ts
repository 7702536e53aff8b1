import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { componentInit } from '../../src/spi/metadata-reader';
import { noopLogger } from '../../test/support/logger';
import { describeSecretStoreConformance, type SeedSecrets } from '../conformance/secretstore.conformance';
import { LocalEnvSecretStore } from './local-env.secret-store';
import { LocalFileSecretStore } from './local-file.secret-store';

function init(type: string, metadata: Record<string, string>) {
  return componentInit({ name: 'secrets', type, appId: 'app', metadata, clock: new VirtualClock(), logger: noopLogger, source: '(test)' });
}

async function envStore(metadata: Record<string, string> = {}): Promise<LocalEnvSecretStore> {
  const store = new LocalEnvSecretStore();
  await store.init(init('secretstores.local.env', metadata));
  return store;
}

async function fileStore(content: unknown, metadata: Record<string, string> = {}): Promise<{ store: LocalFileSecretStore; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sidekick-secrets-'));
  const file = join(dir, 'secrets.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  const store = new LocalFileSecretStore();
  await store.init(init('secretstores.local.file', { secretsFile: file, ...metadata }));
  return { store, dir };
}

describeSecretStoreConformance('secretstores.local.env (prefix)', {
  multiValued: false,
  async create(secrets: SeedSecrets) {
    const prefix = 'SIDEKICK_TEST_';
    for (const [name, values] of Object.entries(secrets)) process.env[prefix + name] = values[name];
    const store = await envStore({ prefix });
    return {
      store,
      cleanup: async () => {
        for (const name of Object.keys(secrets)) delete process.env[prefix + name];
        await store.close();
      },
    };
  },
});

describeSecretStoreConformance('secretstores.local.file', {
  multiValued: false,
  async create(secrets: SeedSecrets) {
    const { store, dir } = await fileStore(Object.fromEntries(Object.entries(secrets).map(([n, v]) => [n, v[n]])));
    return { store, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  },
});

describeSecretStoreConformance('secretstores.local.file (multiValued)', {
  multiValued: true,
  async create(secrets: SeedSecrets) {
    const content = Object.fromEntries(Object.entries(secrets).map(([n, v]) => [n, Object.keys(v).length === 1 && v[n] !== undefined ? v[n] : v]));
    const { store, dir } = await fileStore(content, { multiValued: 'true' });
    return { store, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  },
});

describe('secretstores.local.env: what daprd never serves', () => {
  it('hides DAPR_* variables (the API token) and APP_API_TOKEN, whatever their case, from get and bulk', async () => {
    process.env['DAPR_API_TOKEN'] = 'token-that-must-not-leak';
    process.env['dapr_lower'] = 'also-hidden';
    process.env['APP_API_TOKEN'] = 'app-token';
    try {
      const store = await envStore();
      await expect(store.getSecret('DAPR_API_TOKEN')).resolves.toBeUndefined();
      await expect(store.getSecret('dapr_lower')).resolves.toBeUndefined();
      await expect(store.getSecret('APP_API_TOKEN')).resolves.toBeUndefined();
      const all = await store.bulkGetSecret();
      expect(JSON.stringify(all)).not.toContain('token-that-must-not-leak');
      expect(all['APP_API_TOKEN']).toBeUndefined();
      // With a prefix the deny list applies to the full variable name.
      const prefixed = await envStore({ prefix: 'DAPR_' });
      await expect(prefixed.getSecret('API_TOKEN')).resolves.toBeUndefined();
      expect(await prefixed.bulkGetSecret()).toEqual({});
    } finally {
      delete process.env['DAPR_API_TOKEN'];
      delete process.env['dapr_lower'];
      delete process.env['APP_API_TOKEN'];
    }
  });
});

describe('secretstores.local.file: daprd semantics', () => {
  const dirs: string[] = [];
  const open = async (content: unknown, metadata: Record<string, string> = {}): Promise<LocalFileSecretStore> => {
    const { store, dir } = await fileStore(content, metadata);
    dirs.push(dir);
    return store;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const doc = { db: { user: 'u', password: 'p', replicas: ['r1', 'r2'] }, token: 't', port: 5432, on: true };

  it('flattens nested objects and arrays with ":" into single-valued secrets', async () => {
    const store = await open(doc);
    await expect(store.getSecret('db:password')).resolves.toEqual({ 'db:password': 'p' });
    await expect(store.getSecret('db:replicas:1')).resolves.toEqual({ 'db:replicas:1': 'r2' });
    await expect(store.getSecret('port')).resolves.toEqual({ port: '5432' });
    await expect(store.getSecret('db')).resolves.toBeUndefined();
    expect(Object.keys(await store.bulkGetSecret()).sort()).toEqual(['db:password', 'db:replicas:0', 'db:replicas:1', 'db:user', 'on', 'port', 'token']);
  });

  it('nestedSeparator changes the joint; an empty one means ":"', async () => {
    await expect((await open(doc, { nestedSeparator: '.' })).getSecret('db.user')).resolves.toEqual({ 'db.user': 'u' });
    await expect((await open(doc, { nestedSeparator: '' })).getSecret('db:user')).resolves.toEqual({ 'db:user': 'u' });
  });

  it('multiValued: each top-level key is one secret; an object keeps its (flattened) keys', async () => {
    const store = await open(doc, { multiValued: 'true', nestedSeparator: '/' });
    await expect(store.getSecret('db')).resolves.toEqual({ user: 'u', password: 'p', 'replicas/0': 'r1', 'replicas/1': 'r2' });
    await expect(store.getSecret('token')).resolves.toEqual({ token: 't' });
    await expect(store.getSecret('db/user')).resolves.toBeUndefined();
  });

  it('a file that is not JSON fails init naming the file, without quoting its content', async () => {
    const failing = open('{"password": hunter2-secret-value}');
    await expect(failing).rejects.toThrow(/secrets\.json is not valid JSON/);
    await expect(failing).rejects.not.toThrow(/hunter2/);
  });

  it('a missing secretsFile fails init naming the field', async () => {
    const store = new LocalFileSecretStore();
    await expect(store.init(init('secretstores.local.file', {}))).rejects.toThrow(/secretsFile/);
  });
});
