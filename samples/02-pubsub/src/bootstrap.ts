import 'reflect-metadata';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createSidekickLogger, SidekickRuntime } from '@sidekick/core';
import { requireResourcesPath } from './sidekick.options';

/**
 * Creates and starts one Nest app of this sample on `PORT` (default `defaultPort`) and `HOST`
 * (default 127.0.0.1). SIGTERM/SIGINT drain, close the components and exit with code 0.
 */
export async function startApp(module: Type, name: string, defaultPort: number): Promise<INestApplication> {
  requireResourcesPath(); // fail with one line, before Nest starts
  // Nest's lines in Sidekick's format: one log stream (pretty; SIDEKICK_LOG_FORMAT=json or NODE_ENV=production for JSON lines).
  const logger = createSidekickLogger({ appId: name });
  const app = await NestFactory.create(module, { logger });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const port = Number(process.env['PORT'] ?? defaultPort);
  const host = process.env['HOST'] ?? '127.0.0.1';
  await app.listen(port, host);
  const api = app.get(SidekickRuntime).httpApiAddress;
  logger.log(`${name} listening on http://${host}:${port} (Dapr HTTP API on ${api ? `http://${api.address}:${api.port}` : 'off'})`, 'main');
  return app;
}

/** Ends the process on a startup or publishing error, with the message only. */
export function exitOnError(err: unknown): never {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}

/** A positive integer from the environment, or `fallback`. */
export function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name}="${text}" is not a non-negative integer`);
  return value;
}
