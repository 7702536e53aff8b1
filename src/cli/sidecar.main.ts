import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createSidekickLogger } from '../runtime/nest-logger';
import { SidekickModule } from '../runtime/sidekick.module';

/**
 * The sidecar process of `sidekick run` for an app that is not a Sidekick app: the Sidekick runtime
 * alone (a Nest application context, no HTTP app of its own) with the app channel pointed at the
 * app. It serves the Dapr HTTP API on `SIDEKICK_HTTP_PORT` and delivers to the app over HTTP.
 *
 * Settings (set by `sidekick run`): `SIDEKICK_APP_ID`, `SIDEKICK_HTTP_PORT`, `SIDEKICK_RESOURCES_PATH`,
 * `SIDEKICK_APP_CHANNEL_URL` (none: an app without a port, nothing is delivered to it),
 * `SIDEKICK_APP_HEALTH_CHECK_PATH`.
 */
async function main(): Promise<void> {
  const appId = process.env['SIDEKICK_APP_ID'] ?? '';
  const url = process.env['SIDEKICK_APP_CHANNEL_URL'];
  const healthCheckPath = process.env['SIDEKICK_APP_HEALTH_CHECK_PATH'] || undefined;

  @Module({ imports: [SidekickModule.forRoot({ appId, appChannel: url ? { url, healthCheckPath } : undefined })] })
  class SidecarModule {}

  const app = await NestFactory.createApplicationContext(SidecarModule, { logger: createSidekickLogger({ appId: appId || 'sidecar' }) });
  app.enableShutdownHooks();
}

main().catch((err: unknown) => {
  process.stderr.write(`sidekick sidecar failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
