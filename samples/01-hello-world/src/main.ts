import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createSidekickLogger, SidekickRuntime } from '@sidekick/core';
import { AppModule } from './app.module';

async function main(): Promise<void> {
  // Nest's lines in Sidekick's format: one log stream (pretty; SIDEKICK_LOG_FORMAT=json or NODE_ENV=production for JSON lines).
  const logger = createSidekickLogger({ appId: 'nodeapp' });
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger });
  // Invocations carry bodies up to the HTTP API's maxBodyBytes (4 MiB); Nest's JSON parser stops at 100 KB by default.
  app.useBodyParser('json', { limit: '4mb' });
  // SIGTERM/SIGINT: drain, close the components, then exit with code 0 (process.exit also flushes the logs).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const port = Number(process.env['PORT'] ?? 3000);
  const host = process.env['HOST'] ?? '127.0.0.1';
  await app.listen(port, host);
  const api = app.get(SidekickRuntime).httpApiAddress;
  logger.log(`nodeapp listening on http://${host}:${port} (Dapr HTTP API on ${api ? `http://${api.address}:${api.port}` : 'off'})`, 'main');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
