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
 * `SIDEKICK_APP_HEALTH_CHECK_PATH`; periodic app health checks with `SIDEKICK_APP_HEALTH_CHECK=true`,
 * `SIDEKICK_APP_HEALTH_PROBE_INTERVAL` (s), `SIDEKICK_APP_HEALTH_PROBE_TIMEOUT` (ms), `SIDEKICK_APP_HEALTH_THRESHOLD`;
 * `SIDEKICK_APP_MAX_CONCURRENCY` (daprd's `--app-max-concurrency`). The HTTP API's own settings
 * (`SIDEKICK_HTTP_HOST`, `SIDEKICK_HTTP_MAX_BODY_BYTES`, `SIDEKICK_HTTP_MAX_HEADER_BYTES`) are read by the runtime.
 */
async function main(): Promise<void> {
  const appId = process.env['SIDEKICK_APP_ID'] ?? '';
  const url = process.env['SIDEKICK_APP_CHANNEL_URL'];
  const healthCheckPath = process.env['SIDEKICK_APP_HEALTH_CHECK_PATH'] || undefined;
  const healthCheck = process.env['SIDEKICK_APP_HEALTH_CHECK'] === 'true' ? healthCheckSettings(process.env) : undefined;
  const limit = process.env['SIDEKICK_APP_MAX_CONCURRENCY'];
  const maxConcurrency = limit ? Number(limit) : undefined;

  @Module({ imports: [SidekickModule.forRoot({ appId, appChannel: url ? { url, healthCheckPath, healthCheck, maxConcurrency } : undefined })] })
  class SidecarModule {}

  const app = await NestFactory.createApplicationContext(SidecarModule, { logger: createSidekickLogger({ appId: appId || 'sidecar' }) });
  app.enableShutdownHooks();
}

/** daprd's defaults: every 5 s, 500 ms per probe, unhealthy after 3 failures in a row. */
function healthCheckSettings(env: NodeJS.ProcessEnv): { intervalMs: number; timeoutMs: number; threshold: number } {
  const num = (name: string, fallback: number): number => (env[name] ? Number(env[name]) : fallback);
  return {
    intervalMs: num('SIDEKICK_APP_HEALTH_PROBE_INTERVAL', 5) * 1000,
    timeoutMs: num('SIDEKICK_APP_HEALTH_PROBE_TIMEOUT', 500),
    threshold: num('SIDEKICK_APP_HEALTH_THRESHOLD', 3),
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`sidekick sidecar failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
