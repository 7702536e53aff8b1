import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaprClient } from '@dapr/dapr';
import { daprHttpClient } from '../support/dapr-client';
import { startApp, tempDir, type TestApp } from '../support/app';

/**
 * The official `@dapr/dapr` client's secrets calls over HTTP (`client.secret.get` / `getBulk`), the
 * calls its HTTP e2e suite makes, against a Sidekick app with a local file store and a scope.
 */
describe('the official @dapr/dapr client (HTTP): secrets', () => {
  let t: TestApp;
  let client: DaprClient;

  beforeAll(async () => {
    const dir = tempDir();
    const file = join(dir, 'secrets.json');
    writeFileSync(file, JSON.stringify({ 'secret-key': 'secret-value', database: { user: 'admin', password: 'pw' }, forbidden: 'f' }));
    t = await startApp({
      appId: 'daprclient-secrets',
      components: [
        { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
        {
          metadata: { name: 'secret-envvars' },
          spec: {
            type: 'secretstores.local.file',
            version: 'v1',
            metadata: [
              { name: 'secretsFile', value: file },
              { name: 'multiValued', value: 'true' },
            ],
          },
        },
      ],
      config: { secrets: { scopes: [{ storeName: 'secret-envvars', deniedSecrets: ['forbidden'] }] } },
    });
    client = daprHttpClient(t.apiUrl);
    await client.start();
  }, 10_000);

  afterAll(async () => {
    await client.stop();
    await t.close();
  });

  it('secret.get returns the secret map', async () => {
    await expect(client.secret.get('secret-envvars', 'secret-key')).resolves.toEqual({ 'secret-key': 'secret-value' });
    await expect(client.secret.get('secret-envvars', 'database')).resolves.toEqual({ user: 'admin', password: 'pw' });
  });

  it('secret.get passes its metadata query string', async () => {
    await expect(client.secret.get('secret-envvars', 'secret-key', 'metadata.namespace=default')).resolves.toEqual({ 'secret-key': 'secret-value' });
  });

  it('secret.getBulk returns every allowed secret', async () => {
    await expect(client.secret.getBulk('secret-envvars')).resolves.toEqual({
      'secret-key': { 'secret-key': 'secret-value' },
      database: { user: 'admin', password: 'pw' },
    });
  });

  it("errors reach the client with daprd's status and code", async () => {
    const denied = await client.secret.get('secret-envvars', 'forbidden').then(
      () => undefined,
      (err: Error) => JSON.parse(err.message) as { status: number; error_msg: string },
    );
    expect(denied?.status).toBe(403);
    expect(JSON.parse(denied?.error_msg ?? '{}')).toMatchObject({ errorCode: 'ERR_PERMISSION_DENIED' });
    const unknown = await client.secret.get('nope', 'x').then(
      () => undefined,
      (err: Error) => JSON.parse(err.message) as { status: number },
    );
    expect(unknown?.status).toBe(401);
  });
});
