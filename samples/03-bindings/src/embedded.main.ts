import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { createSidekickLogger, SidekickRuntime } from '@sidekick/core';
import { EmbeddedAppModule } from './embedded.module';

/**
 * batch on the embedded defaults: the cron binding's batches go to the SQLite state store (no
 * PostgreSQL, no Kafka). `npm start` of a project made by `sidekick new --sample 03-bindings`.
 */
async function main(): Promise<void> {
  const logger = createSidekickLogger({ appId: 'batch' });
  const app = await NestFactory.create(EmbeddedAppModule, { logger });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const port = Number(process.env['PORT'] ?? 5003);
  const host = process.env['HOST'] ?? '127.0.0.1';
  await app.listen(port, host);
  const api = app.get(SidekickRuntime).httpApiAddress;
  logger.log(
    `batch (embedded: batches in the state store) listening on http://${host}:${port} (Dapr HTTP API on ${api ? `http://${api.address}:${api.port}` : 'off'})`,
    'main',
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
