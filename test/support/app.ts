import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SidekickModule, type SidekickModuleOptions, SidekickRuntime } from '../../src';
import { noopLogger } from './logger';

export interface TestApp {
  readonly app: INestApplication;
  readonly runtime: SidekickRuntime;
  /** The Dapr HTTP API, e.g. `http://127.0.0.1:41234`. */
  readonly apiUrl: string;
  /** The app's own routes. */
  readonly appUrl: string;
  close(): Promise<void>;
}

/** A private folder for one test's registry / data files. */
export function tempDir(prefix = 'sidekick-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Starts a real Nest HTTP app with SidekickModule on free ports. Defaults: in-memory `statestore`,
 * no resources folder, a private local registry, a silent logger.
 */
export async function startApp(
  options: Partial<SidekickModuleOptions> & { appId?: string },
  metadata: Pick<ModuleMetadata, 'controllers' | 'providers'> = {},
): Promise<TestApp> {
  const dir = tempDir();
  const moduleRef = await Test.createTestingModule({
    imports: [
      SidekickModule.forRoot({
        appId: 'testapp',
        resourcesPath: options.resourcesPath ?? dir,
        components: options.components ?? [{ metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } }],
        logger: noopLogger,
        dataDir: dir,
        ...options,
        httpApi: { port: 0, ...options.httpApi },
        nameResolution: { localRegistry: join(dir, 'registry'), ...options.nameResolution },
      }),
    ],
    controllers: metadata.controllers ?? [],
    providers: metadata.providers ?? [],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const runtime = app.get(SidekickRuntime);
  const api = runtime.httpApiAddress;
  const appUrl = await app.getUrl();
  return {
    app,
    runtime,
    apiUrl: api ? `http://127.0.0.1:${api.port}` : '',
    appUrl: appUrl.replace('[::1]', '127.0.0.1'),
    close: () => app.close(),
  };
}
