import Database from 'better-sqlite3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SystemClock } from '../../src';
import type { SecretStore } from '../../src/spi';
import { ComponentManager } from '../../src/runtime/components/component.manager';
import { BUILTIN_COMPONENT_TYPES } from '../../src/runtime/components/builtin-types';
import { resolveOptions, type SidekickModuleOptions } from '../../src/runtime/sidekick.options';
import { tempDir } from '../support/app';
import { captureLogs, noopLogger } from '../support/logger';
import { redisHostPort } from '../support/services';
import type { SidekickLogger } from '../../src/spi/logger';

function resources(files: Record<string, string>): string {
  const dir = tempDir('sidekick-res-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function load(
  files: Record<string, string>,
  options: Partial<SidekickModuleOptions> = {},
  logger: SidekickLogger = noopLogger,
): Promise<ComponentManager> {
  const dir = resources(files);
  const manager = new ComponentManager(
    resolveOptions({ appId: 'myapp', resourcesPath: dir, dataDir: join(dir, '.sidekick'), ...options }, {}),
    BUILTIN_COMPONENT_TYPES,
    new SystemClock(),
    logger,
  );
  await manager.start();
  return manager;
}

const memory = (name: string, extra = ''): string => `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: state.in-memory
  version: v1
${extra}`;

describe('component YAML loading', () => {
  it('loads every .yaml and .yml file, and multi-document files', async () => {
    const m = await load({ 'a.yaml': memory('one'), 'b.yml': `${memory('two')}\n---\n${memory('three')}`, 'notes.txt': 'ignored' });
    expect(
      m
        .list('state')
        .map((c) => c.spec.name)
        .sort(),
    ).toEqual(['one', 'three', 'two']);
    await m.close();
  });

  it('uses the embedded SQLite statestore under the data dir when no state store is configured', async () => {
    const m = await load({});
    const [store] = m.list('state');
    expect(store?.spec).toMatchObject({ name: 'statestore', type: 'state.sqlite', source: '(default)' });
    await m.close();
  });

  it('rejects a bad file naming the file, the component and the field', async () => {
    const bad = memory('broken').replace('version: v1', 'version: v1\n  initTimeout: soon');
    await expect(load({ 'broken.yaml': bad })).rejects.toThrow(/broken\.yaml: component "broken": spec\.initTimeout: "soon" is not a duration/);
    const unknownField = memory('odd').replace('version: v1', 'version: v1\n  colour: blue');
    await expect(load({ 'odd.yaml': unknownField })).rejects.toThrow(/odd\.yaml: component "odd": spec: .*colour.*allowed: type, version, metadata/);
    const badApi = memory('x').replace('dapr.io/v1alpha1', 'dapr.io/v2');
    await expect(load({ 'x.yaml': badApi })).rejects.toThrow(/x\.yaml: component "x": apiVersion: apiVersion must be dapr\.io\/v1alpha1/);
    await expect(load({ 'y.yaml': 'a: [unclosed' })).rejects.toThrow(/y\.yaml: invalid YAML/);
  });

  it('reads an empty "metadata:" line as no metadata, and accepts daprd\'s alias bindings.postgres', async () => {
    const empty = memory('bare').replace('version: v1', 'version: v1\n  metadata:');
    const m = await load({ 'bare.yaml': empty });
    expect(m.get('bare')?.spec.metadata).toEqual([]);
    await m.close();
    const alias = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: db
spec:
  type: bindings.postgres
  version: v1
  metadata:
    - name: connectionString
      value: "host=127.0.0.1 port=1 user=x connect_timeout=1"
`;
    // Known type: it fails to connect (port 1), not as an unknown type.
    await expect(load({ 'db.yaml': alias })).rejects.toThrow(/component "db" \(bindings\.postgres\) failed to initialise/);
  });

  it('lists only the types of the kind asked for, or says there are none', async () => {
    const conf = memory('conf').replace('state.in-memory', 'nameresolution.mdns');
    await expect(load({ 'c.yaml': conf })).rejects.toThrow(
      /unknown component type "nameresolution\.mdns"; this runtime has no nameresolution component types yet$/,
    );
    const etcd = memory('conf').replace('state.in-memory', 'configuration.etcd');
    await expect(load({ 'c.yaml': etcd })).rejects.toThrow(
      /unknown component type "configuration\.etcd"; known configuration types: configuration\.in-memory, configuration\.redis, configuration\.postgresql/,
    );
  });

  it('lists the known types when spec.type is unknown', async () => {
    const text = memory('cache').replace('state.in-memory', 'state.memcachedx');
    await expect(load({ 'cache.yaml': text })).rejects.toThrow(
      /cache\.yaml: component "cache": spec\.type: unknown component type "state\.memcachedx"; known state types: state\.in-memory, state\.sqlite, state\.redis, state\.postgresql/,
    );
  });

  it('rejects an unsupported spec.version', async () => {
    await expect(load({ 'v.yaml': memory('v').replace('version: v1', 'version: v9') })).rejects.toThrow(
      /spec\.version: version "v9" is not supported by state\.in-memory; use v1/,
    );
  });

  it('rejects two components with one name, naming both files', async () => {
    await expect(load({ 'a.yaml': memory('dup'), 'b.yaml': memory('dup') })).rejects.toThrow(
      /duplicate component "dup": defined in .*a\.yaml and again in .*b\.yaml/,
    );
  });

  it('loads a scoped component only for the app ids listed', async () => {
    const scoped = `${memory('scoped')}scopes:\n  - otherapp\n`;
    const mine = `${memory('mine')}scopes:\n  - myapp\n`;
    const m = await load({ 's.yaml': scoped, 'm.yaml': mine });
    expect(m.list('state').map((c) => c.spec.name)).toEqual(['mine']);
    await m.close();
  });

  it('resolves secretKeyRef through auth.secretStore (local.file and local.env)', async () => {
    const dir = tempDir();
    const secretsFile = join(dir, 'secrets.json');
    writeFileSync(secretsFile, JSON.stringify({ redis: { password: 'from-file' } }));
    process.env['SIDEKICK_TEST_SECRET_PREFIX_TABLE'] = 'from_env';
    const fileStore = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: filesecrets
spec:
  type: secretstores.local.file
  version: v1
  metadata:
    - name: secretsFile
      value: ${secretsFile}
`;
    const envStore = fileStore
      .replace('filesecrets', 'envsecrets')
      .replace('secretstores.local.file', 'secretstores.local.env')
      .replace(/  metadata:\n.*\n.*\n/, '  metadata:\n    - name: prefix\n      value: SIDEKICK_TEST_SECRET_PREFIX_\n');
    const sqlite = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: db
spec:
  type: state.sqlite
  version: v1
  metadata:
    - name: connectionString
      value: ${join(dir, 'x.db')}
    - name: tableName
      secretKeyRef: { name: TABLE }
auth:
  secretStore: envsecrets
`;
    const m = await load({ 'a-file.yaml': fileStore, 'b-env.yaml': envStore, 'c-db.yaml': sqlite });
    expect(await (m.get('filesecrets')?.instance as SecretStore | undefined)?.getSecret('redis:password')).toEqual({ 'redis:password': 'from-file' });
    expect(m.get('db')?.spec.type).toBe('state.sqlite');
    // The store got the secret's value: its table is named after it.
    const db = new Database(join(dir, 'x.db'), { readonly: true });
    try {
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?").get('from_env')).toEqual({ name: 'from_env' });
    } finally {
      db.close();
    }
    await m.close();

    const missing = sqlite.replace('name: TABLE', 'name: NOPE');
    await expect(load({ 'b-env.yaml': envStore, 'c-db.yaml': missing })).rejects.toThrow(
      /c-db\.yaml: component "db": spec\.metadata\[1\]\.secretKeyRef: secret "NOPE" .* was not found in secret store "envsecrets"/,
    );
    const noStore = sqlite.replace('secretStore: envsecrets', 'secretStore: vault');
    await expect(load({ 'c-db.yaml': noStore })).rejects.toThrow(/secret store "vault" \(auth\.secretStore\) is not loaded/);
    const noAuth = sqlite.replace(/auth:\n  secretStore: envsecrets\n/, '');
    await expect(load({ 'c-db.yaml': noAuth })).rejects.toThrow(/secretKeyRef needs auth\.secretStore/);
  });

  it('fails start-up naming the address of an unreachable backend, unless ignoreErrors is set', async () => {
    const redis = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: cache
spec:
  type: state.redis
  version: v1
  initTimeout: 3s
  metadata:
    - name: redisHost
      value: 127.0.0.1:1
`;
    await expect(load({ 'r.yaml': redis })).rejects.toThrow(/r\.yaml: component "cache" \(state\.redis\) failed to initialise: .*127\.0\.0\.1:1/);
    const m = await load({ 'r.yaml': redis.replace('initTimeout: 3s', 'initTimeout: 3s\n  ignoreErrors: true') });
    expect(m.get('cache')).toBeUndefined();
    await m.close();
  });

  it('warns about each metadata key the component never read, with the closest known key, and still starts', async () => {
    const redis = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: cache
spec:
  type: state.redis
  version: v1
  metadata:
    - name: redisHost
      value: ${redisHostPort()}
    - name: redisHots
      value: localhost:6379
    - name: keyPrefix
      value: none
    - name: colour
      value: blue
`;
    const logger = captureLogs();
    const m = await load({ 'cache.yaml': redis }, {}, logger);
    expect(m.get('cache')).toBeDefined();
    const warnings = logger.find({ level: 'warn' });
    expect(warnings).toEqual([
      expect.objectContaining({
        fields: expect.objectContaining({ component: 'cache', key: 'redisHots', suggestion: 'redisHost' }),
        msg: 'spec.metadata.redisHots is not used by state.redis (ignored); did you mean redisHost?',
      }),
      expect.objectContaining({
        fields: expect.objectContaining({ component: 'cache', key: 'colour' }),
        msg: 'spec.metadata.colour is not used by state.redis (ignored)',
      }),
    ]);
    await m.close();
  });

  it('never puts a secret into a start-up error or a log line (URL credentials, secret fields, secretKeyRefs)', async () => {
    const logs = captureLogs();
    const redis = (name: string, items: string): string => `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: state.redis
  version: v1
  metadata:
${items}`;
    const failures: string[] = [];
    for (const doc of [
      redis('url', '    - name: redisHost\n      value: "redis://:hunter2-url@127.0.0.1:1"'),
      redis(
        'pw',
        '    - name: redisHost\n      value: "127.0.0.1:1"\n    - name: redisPassword\n      value: hunter2-field\n    - name: dialTimeout\n      value: 200ms',
      ),
      `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pg
spec:
  type: state.postgresql
  version: v1
  metadata:
    - name: connectionString
      value: "host=127.0.0.1 port=1 user=x password=hunter2-pair connect_timeout=1"
    - name: timeout
      value: 1s
`,
    ]) {
      const err = await load({ 'c.yaml': doc }, {}, logs).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(Error);
      failures.push(`${err?.message}\n${err?.stack}\n${String((err as { cause?: unknown })?.cause)}`);
    }
    const everything = `${failures.join('\n')}\n${logs.text()}`;
    expect(everything).not.toMatch(/hunter2/);
    expect(everything).toMatch(/\*\*\*/);
  });

  it('fails when an explicitly given resources path does not exist', async () => {
    await expect(load({}, { resourcesPath: '/nonexistent/sidekick/components' })).rejects.toThrow(
      /resources path \/nonexistent\/sidekick\/components does not exist/,
    );
  });

  it('accepts inline components in options', async () => {
    const m = await load({}, { components: [{ metadata: { name: 'inline' }, spec: { type: 'state.in-memory', version: 'v1' } }] });
    expect(m.get('inline')?.spec.source).toBe('(inline)');
    await m.close();
  });
});

describe('data dir', () => {
  it('creates the SQLite file under the data dir', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'res'));
    const m = new ComponentManager(
      resolveOptions({ appId: 'a', resourcesPath: join(dir, 'res'), dataDir: join(dir, 'data') }, {}),
      BUILTIN_COMPONENT_TYPES,
      new SystemClock(),
      noopLogger,
    );
    await m.start();
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(dir, 'data', 'state.db'))).toBe(true);
    await m.close();
  });
});
