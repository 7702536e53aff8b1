import 'reflect-metadata';
import { existsSync } from 'node:fs';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createSidekickLogger, SidekickRuntime, type SidekickModuleOptions } from '@sidekick/core';

/** The components run from the repository root; elsewhere (the sample folder, a `sidekick new` project) `./components`. */
const REPOSITORY_RESOURCES = 'samples/04-observability/components';

/** SidekickModule options of each app: the resources folder holds the components and the Configuration. */
export function sidekickOptions(appId: string, defaultApiPort: number): SidekickModuleOptions {
  return {
    appId,
    resourcesPath: process.env['SIDEKICK_RESOURCES_PATH'] ?? (existsSync(REPOSITORY_RESOURCES) ? REPOSITORY_RESOURCES : undefined),
    httpApi: { port: Number(process.env['SIDEKICK_HTTP_PORT'] ?? defaultApiPort) },
  };
}

/** Creates and starts one app on `PORT` (default `defaultPort`); SIGTERM/SIGINT drain, flush the spans and exit. */
export async function startApp(module: Type, name: string, defaultPort: number): Promise<INestApplication> {
  const logger = createSidekickLogger({ appId: name });
  const app = await NestFactory.create(module, { logger });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const port = Number(process.env['PORT'] ?? defaultPort);
  await app.listen(port, '127.0.0.1');
  const api = app.get(SidekickRuntime).httpApiAddress;
  logger.log(`${name} listening on http://127.0.0.1:${port} (Dapr HTTP API on ${api ? `http://${api.address}:${api.port}` : 'off'})`, 'main');
  return app;
}

export function exitOnError(err: unknown): never {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
