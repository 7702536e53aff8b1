import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { createSidekickLogger, SidekickRuntime } from '@sidekick/core';
import { AppModule } from './app.module';
import { APP_ID } from './settings';

async function main(): Promise<void> {
  // Nest's lines in Sidekick's format: one log stream (pretty; SIDEKICK_LOG_FORMAT=json or NODE_ENV=production for JSON lines).
  const logger = createSidekickLogger({ appId: APP_ID });
  const app = await NestFactory.create(AppModule, { logger });
  // SIGTERM/SIGINT: the cron stops, a running job finishes and unlocks, the components close, exit 0.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const port = Number(process.env['PORT'] ?? 5007);
  const host = process.env['HOST'] ?? '127.0.0.1';
  await app.listen(port, host);
  const api = app.get(SidekickRuntime).httpApiAddress;
  logger.log(
    `${APP_ID} (pid ${process.pid}) listening on http://${host}:${port} (Dapr HTTP API on ${api ? `http://${api.address}:${api.port}` : 'off'})`,
    'main',
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
