import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  // SIGTERM/SIGINT: drain, close the components, then exit with code 0 (process.exit also flushes the logs).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const port = Number(process.env['PORT'] ?? 3000);
  const host = process.env['HOST'] ?? '127.0.0.1';
  await app.listen(port, host);
  console.log(`nodeapp listening on http://${host}:${port} (Dapr HTTP API on ${process.env['SIDEKICK_HTTP_PORT'] ?? 3500})`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
