import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { createSidekickLogger, SidekickRuntime } from '@sidekick/core';
import { AppModule } from './app.module';

async function main(): Promise<void> {
  const logger = createSidekickLogger({ appId: process.env['APP_ID'] ?? 'bank' });
  const app = await NestFactory.create(AppModule, { logger });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const port = Number(process.env['PORT'] ?? 3000);
  await app.listen(port, '127.0.0.1');
  const api = app.get(SidekickRuntime).httpApiAddress;
  logger.log(
    `bank instance ${process.env['INSTANCE'] ?? process.pid} on http://127.0.0.1:${port} (Dapr HTTP API on http://127.0.0.1:${api?.port ?? '-'})`,
    'main',
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
