import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SidekickClient, SidekickModule, SidekickRuntime } from '../../src';
import { silentLogger } from '../../src/testing';
import { REDIS_HOST, REDIS_PORT } from './redis';

export { silentLogger };

/** The app route the invoke benchmark calls: a small JSON object, no state. */
@Controller()
class BenchController {
  @Get('order')
  order(): { orderId: number; status: string } {
    return { orderId: 42, status: 'shipped' };
  }
}

export interface BenchApp {
  readonly app: INestApplication;
  readonly client: SidekickClient;
  /** The app's own HTTP server, e.g. `http://127.0.0.1:41234`. */
  readonly appUrl: string;
  /** Sidekick's Dapr HTTP API. */
  readonly apiUrl: string;
  close(): Promise<void>;
}

/** What differs between bench apps (the tracing bench runs three side by side). */
export interface BenchAppOptions {
  /** Default `bench`. */
  readonly appId?: string;
  /** The app's Configuration (`spec`), e.g. `{ tracing: { samplingRate: '1', zipkin: {...} } }`. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Serve metrics (default off, so the other figures stay comparable). */
  readonly metrics?: boolean;
}

/**
 * A real Nest (Express) app, app id `bench`, with `statestore` = `state.redis` on the bench Redis,
 * the Dapr HTTP API on a free port, a silent logger, and metrics off unless `metrics` is set.
 */
export async function startBenchApp(options: BenchAppOptions = {}): Promise<BenchApp> {
  const dir = mkdtempSync(join(tmpdir(), 'sidekick-bench-'));
  @Module({
    imports: [
      SidekickModule.forRoot({
        appId: options.appId ?? 'bench',
        ...(options.config ? { config: options.config } : {}),
        resourcesPath: dir,
        dataDir: dir,
        components: [
          {
            metadata: { name: 'statestore' },
            spec: { type: 'state.redis', version: 'v1', metadata: [{ name: 'redisHost', value: `${REDIS_HOST}:${REDIS_PORT}` }] },
          },
        ],
        httpApi: { port: 0 },
        // Metrics (on by default in apps) only where a benchmark measures them: the other figures stay comparable.
        metrics: options.metrics ? { port: 0 } : { enabled: false },
        nameResolution: { localRegistry: false },
        logger: silentLogger,
      }),
    ],
    controllers: [BenchController],
  })
  class BenchModule {}

  const app = await NestFactory.create(BenchModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const runtime = app.get(SidekickRuntime);
  const api = runtime.httpApiAddress;
  if (!api) throw new Error('the Dapr HTTP API did not start');
  const appPort = ((app.getHttpServer() as Server).address() as AddressInfo).port;
  return {
    app,
    client: app.get(SidekickClient),
    appUrl: `http://127.0.0.1:${appPort}`,
    apiUrl: `http://127.0.0.1:${api.port}`,
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
