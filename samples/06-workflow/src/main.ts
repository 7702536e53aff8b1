import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { createSidekickLogger, SidekickRuntime } from '@sidekick/core';
import { AppModule } from './app.module';

async function main(): Promise<void> {
  // Nest's lines in Sidekick's format: one log stream (pretty; SIDEKICK_LOG_FORMAT=json or NODE_ENV=production for JSON lines).
  const logger = createSidekickLogger({ appId: 'orders' });
  const app = await NestFactory.create(AppModule, { logger });
  // SIGTERM/SIGINT: stop timers, close the state store, exit 0 (running workflows resume at the next start).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const port = Number(process.env['PORT'] ?? 5006);
  const host = process.env['HOST'] ?? '127.0.0.1';
  await app.listen(port, host);
  const api = app.get(SidekickRuntime).httpApiAddress;
  logger.log(`orders listening on http://${host}:${port} (Dapr HTTP API on ${api ? `http://${api.address}:${api.port}` : 'off'})`, 'main');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
