import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Secret } from '../../src/decorators';
import { errorMessage } from '../../src/errors/sidekick.error';
import { SidekickClient } from '../../src/runtime/sidekick.client';
import type { SidekickModuleOptions } from '../../src/runtime/sidekick.options';
import type { Interceptor } from '../../src/spi/interceptor';
import { captureLogs } from '../support/logger';
import { startApp, tempDir } from '../support/app';
import { requireVault, vaultAddr, vaultDestroy, vaultToken, vaultWrite } from '../support/services';

/**
 * Secrets never reach logs, error messages, HTTP error bodies or what the interception seam (where
 * tracing and metrics attach) sees. Every path reads real secrets: the HTTP API, SidekickClient,
 * @Secret injection, and secretKeyRefs into components (the Vault token, a database password that
 * fails its component's init); then failing calls. Everything the app said is grepped for the values.
 */
describe('secrets stay out of logs, errors and the interception seam', () => {
  const run = randomUUID();
  const appSecret = `app-s3cret-${run}`;
  const dbPassword = `db-pw-${run}`;
  const vaultValue = `vault-value-${run}`;
  const deniedValue = `denied-value-${run}`;
  const secrets = [appSecret, dbPassword, vaultValue, deniedValue, vaultToken()];
  const prefix = `sidekick-leak-${run.slice(0, 8)}`;

  @Injectable()
  class Injected {
    constructor(
      @Secret('files', 'app-secret') readonly fromFile: string,
      @Secret('vault', 'db', 'value') readonly fromVault: string,
    ) {}
  }

  beforeAll(async () => {
    await requireVault();
    await vaultWrite(`${prefix}/db`, { value: vaultValue });
  });
  afterAll(() => vaultDestroy(`${prefix}/db`));

  it('through the API, the client, injection and secretKeyRef, on success and on failure', async () => {
    const dir = tempDir();
    const file = join(dir, 'secrets.json');
    writeFileSync(
      file,
      JSON.stringify({ 'app-secret': appSecret, 'vault-token': vaultToken(), 'db-url': `postgres://app:${dbPassword}@127.0.0.1:1/db`, denied: deniedValue }),
    );
    const logs = captureLogs();
    const seen: string[] = [];
    const spy: Interceptor = {
      name: 'spy',
      intercept: async (call, next) => {
        seen.push(JSON.stringify(call));
        try {
          return await next();
        } catch (err) {
          seen.push(errorMessage(err));
          throw err;
        }
      },
    };
    const options: Partial<SidekickModuleOptions> = {
      logger: logs,
      interceptors: [spy],
      config: { secrets: { scopes: [{ storeName: 'files', deniedSecrets: ['denied'] }] } },
      components: [
        { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
        { metadata: { name: 'files' }, spec: { type: 'secretstores.local.file', version: 'v1', metadata: [{ name: 'secretsFile', value: file }] } },
        {
          metadata: { name: 'vault' },
          spec: {
            type: 'secretstores.hashicorp.vault',
            version: 'v1',
            metadata: [
              { name: 'vaultAddr', value: vaultAddr() },
              { name: 'vaultToken', secretKeyRef: { name: 'vault-token' } },
              { name: 'vaultKVPrefix', value: prefix },
            ],
          },
          auth: { secretStore: 'files' },
        },
        {
          // Fails to initialise (nothing listens on port 1): its error must not carry the password.
          metadata: { name: 'pgstore' },
          spec: {
            type: 'state.postgresql',
            version: 'v1',
            ignoreErrors: true,
            initTimeout: '3s',
            metadata: [{ name: 'connectionString', secretKeyRef: { name: 'db-url' } }],
          },
          auth: { secretStore: 'files' },
        },
      ],
    };
    const t = await startApp(options, { providers: [Injected] });
    const said: string[] = [];
    try {
      // Reads that succeed: every path really returned the secrets.
      expect(t.app.get(Injected).fromFile).toBe(appSecret);
      expect(t.app.get(Injected).fromVault).toBe(vaultValue);
      const client = t.app.get(SidekickClient);
      expect(await client.secrets.get('files', 'app-secret')).toEqual({ 'app-secret': appSecret });
      expect(await client.secrets.get('vault', 'db')).toEqual({ value: vaultValue });
      expect(await (await fetch(`${t.apiUrl}/v1.0/secrets/files/app-secret`)).json()).toEqual({ 'app-secret': appSecret });
      expect(await (await fetch(`${t.apiUrl}/v1.0/secrets/vault/bulk`)).json()).toEqual({ db: { value: vaultValue } });

      // Failures: denied, missing, unknown store, a component whose secretKeyRef'd URL failed.
      for (const path of ['files/denied', 'files/missing', 'nostore/app-secret', 'vault/missing', 'vault/db?metadata.version_id=x']) {
        const res = await fetch(`${t.apiUrl}/v1.0/secrets/${path}`);
        expect(res.status).toBeGreaterThanOrEqual(400);
        said.push(await res.text());
      }
      const pg = await fetch(`${t.apiUrl}/v1.0/state/pgstore/k`);
      expect(pg.status).toBeGreaterThanOrEqual(400);
      said.push(await pg.text());
      for (const call of [client.secrets.get('files', 'denied'), client.secrets.get('vault', 'nope'), client.state('pgstore').get('k')]) {
        said.push(
          await call.then(
            () => 'resolved?',
            (err: unknown) => `${errorMessage(err)} ${(err as Error).stack ?? ''}`,
          ),
        );
      }
    } finally {
      await t.close();
    }
    said.push(logs.text(), ...seen);
    expect(logs.lines.length).toBeGreaterThan(5);
    expect(logs.text()).toContain('pgstore'); // the failed component was logged...
    const everything = said.join('\n');
    // The failures were real, and said what failed:
    expect(everything).toContain('ERR_PERMISSION_DENIED');
    expect(everything).toContain('failed to initialise');
    expect(everything).toContain('secret missing not found');
    for (const secret of secrets) expect(everything).not.toContain(secret); // ...without any secret
  });

  it("a start-up failure of @Secret names the secret, not another one's value", async () => {
    const dir = tempDir();
    const file = join(dir, 'secrets.json');
    writeFileSync(file, JSON.stringify({ multi: { user: 'u', password: appSecret } }));
    @Injectable()
    class WrongKey {
      constructor(@Secret('mv', 'multi', 'pasword') readonly v: string) {}
    }
    const logs = captureLogs();
    const err = await startApp(
      {
        logger: logs,
        components: [
          { metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } },
          {
            metadata: { name: 'mv' },
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
      },
      { providers: [WrongKey] },
    ).then(
      async (t) => {
        await t.close();
        return 'started?';
      },
      (e: unknown) => `${errorMessage(e)} ${(e as Error).stack ?? ''}`,
    );
    expect(err).toContain('has no key "pasword" (its keys: user, password)');
    expect(`${err}\n${logs.text()}`).not.toContain(appSecret);
  });
});
