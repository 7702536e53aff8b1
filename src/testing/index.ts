/**
 * `@sidekick/core/testing`: start an app on ephemeral ports, drive time with a `VirtualClock`,
 * capture logs, and look inside the runtime where a test must (raw component instances,
 * subscription counters). The project's own tests use it.
 */
import 'reflect-metadata';
import { type INestApplication, Module, type ModuleMetadata } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SidekickConfiguration } from '../config/configuration.loader';
import type { SubscriptionStats } from '../runtime/blocks/pubsub/pubsub.types';
import { SubscriptionsManager } from '../runtime/blocks/pubsub/subscriptions.manager';
import { SidekickModule } from '../runtime/sidekick.module';
import type { SidekickModuleOptions } from '../runtime/sidekick.options';
import { SidekickRuntime } from '../runtime/sidekick.runtime';
import type { Component } from '../spi/component';
import type { SidekickLogger } from '../spi/logger';

export { VirtualClock } from '../runtime/time/virtual.clock';

export interface TestApp {
  readonly app: INestApplication;
  readonly runtime: SidekickRuntime;
  /** The Dapr HTTP API, e.g. `http://127.0.0.1:41234`. */
  readonly apiUrl: string;
  /** The app's own routes. */
  readonly appUrl: string;
  close(): Promise<void>;
}

/** A private folder for one test's registry and data files. */
export function tempDir(prefix = 'sidekick-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Starts a real Nest HTTP app (Express) with `SidekickModule` on free ports (app and Dapr HTTP API,
 * both on 127.0.0.1). Defaults: an in-memory `statestore`, an empty private resources folder and
 * data dir, a private local registry, a silent logger. `options` override any of them.
 */
export async function startTestApp(
  options: Partial<SidekickModuleOptions> = {},
  metadata: Pick<ModuleMetadata, 'controllers' | 'providers' | 'imports'> = {},
): Promise<TestApp> {
  const dir = tempDir();
  const sidekick = SidekickModule.forRoot({
    appId: 'testapp',
    resourcesPath: options.resourcesPath ?? dir,
    components: options.components ?? [{ metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1' } }],
    logger: silentLogger,
    dataDir: dir,
    ...options,
    httpApi: { port: 0, ...options.httpApi },
    nameResolution: { localRegistry: join(dir, 'registry'), ...options.nameResolution },
  });
  class SidekickTestModule {}
  Module({ imports: [sidekick, ...(metadata.imports ?? [])], controllers: metadata.controllers ?? [], providers: metadata.providers ?? [] })(
    SidekickTestModule,
  );
  const app = await NestFactory.create(SidekickTestModule, { logger: false, abortOnError: false });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const runtime = app.get(SidekickRuntime);
  const api = runtime.httpApiAddress;
  const appUrl = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, runtime, apiUrl: api ? `http://127.0.0.1:${api.port}` : '', appUrl, close: () => app.close() };
}

/** One subscription as a test sees it. */
export interface SubscriptionView {
  readonly pubsub: string;
  readonly topic: string;
  readonly stats: Readonly<SubscriptionStats>;
}

/** Looks inside a running app: for assertions only, not for application code. */
export interface RuntimeInspector {
  /** The component instance named `name`, as its factory created it (no interceptor wrapper). */
  component<T extends Component = Component>(name: string): T | undefined;
  /** Every subscription with its counters (`delivered`, `retried`, `dropped`, `deadLettered`, `malformed`, `unrouted`). */
  subscriptions(): readonly SubscriptionView[];
  /** The app's `kind: Configuration` as loaded (Dapr's defaults when it has none). */
  configuration(): SidekickConfiguration;
}

/** Anything to get the runtime from: an app, a testing module, a {@link TestApp}, or the runtime. */
export type RuntimeHolder = SidekickRuntime | TestApp | { get(type: typeof SidekickRuntime): SidekickRuntime };

export function inspect(target: RuntimeHolder): RuntimeInspector {
  const runtime = target instanceof SidekickRuntime ? target : 'runtime' in target ? target.runtime : target.get(SidekickRuntime);
  return {
    component: <T extends Component>(name: string) => runtime.inspectComponent(name)?.instance as T | undefined,
    subscriptions: () =>
      runtime
        .service(SubscriptionsManager)
        .list()
        .map((r) => ({ pubsub: r.spec.pubsub, topic: r.spec.topic, stats: r.stats })),
    configuration: () => runtime.configuration,
  };
}

/** A logged line. */
export interface CapturedLog {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A logger that keeps every line (child bindings merged into `fields`), for asserting on logs. */
export interface CapturingLogger extends SidekickLogger {
  readonly lines: readonly CapturedLog[];
  /** The lines at `level`, or whose message contains `text`. */
  find(filter: { level?: CapturedLog['level']; text?: string }): CapturedLog[];
  /** Everything logged, as one string (to grep for secrets). */
  text(): string;
}

export function captureLogs(): CapturingLogger {
  const lines: CapturedLog[] = [];
  const make = (bindings: Record<string, unknown>): SidekickLogger => {
    const log = (level: CapturedLog['level']) => (obj: object, msg?: string) => {
      lines.push({ level, msg: msg ?? '', fields: { ...bindings, ...(obj as Record<string, unknown>) } });
    };
    return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (more) => make({ ...bindings, ...more }) };
  };
  const root = make({});
  return {
    ...root,
    lines,
    find: ({ level, text }) =>
      lines.filter(
        (l) => (level === undefined || l.level === level) && (text === undefined || l.msg.includes(text) || JSON.stringify(l.fields).includes(text)),
      ),
    text: () => lines.map((l) => `${l.level} ${l.msg} ${JSON.stringify(l.fields)}`).join('\n'),
  };
}

/** A logger that drops everything. */
export const silentLogger: SidekickLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
