import {
  type DynamicModule,
  type FactoryProvider,
  type MiddlewareConsumer,
  Module,
  type ModuleMetadata,
  type NestModule,
  type Provider,
  RequestMethod,
  Scope,
  type Type,
} from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { getSecretToken, getStateStoreToken } from '../decorators/constants';
import { requestedSecrets, secretRef, type SecretRef } from '../decorators/secret.decorator';
import { requestedStateStores } from '../decorators/state-store.decorator';
import type { Clock } from '../spi/clock';
import type { SidekickLogger } from '../spi/logger';
import { BindingsService } from './blocks/bindings/bindings.service';
import { ConfigurationService } from './blocks/configuration/configuration.service';
import { InvokeService } from './blocks/invoke/invoke.service';
import { PubSubService } from './blocks/pubsub/pubsub.service';
import { SecretsService } from './blocks/secrets/secrets.service';
import { StateService } from './blocks/state/state.service';
import { TracingMiddleware } from './blocks/tracing/tracing.middleware';
import { SidekickExplorer } from './discovery/sidekick.explorer';
import { createDefaultLogger } from './logger';
import { LockService } from './blocks/lock/lock.service';
import { SidekickClient } from './sidekick.client';
import { ActorsService } from './blocks/actors/actors.service';
import { WorkflowClient } from './blocks/workflows/workflow.client';
import { resolveOptions, type ResolvedOptions, SIDEKICK_CLOCK, SIDEKICK_LOGGER, SIDEKICK_OPTIONS, type SidekickModuleOptions } from './sidekick.options';
import { SidekickRuntime } from './sidekick.runtime';
import { SystemClock } from './time/system.clock';

/** A class that makes the options (`forRootAsync({ useClass })` / `useExisting`). */
export interface SidekickOptionsFactory {
  createSidekickOptions(): SidekickModuleOptions | Promise<SidekickModuleOptions>;
}

/** `forRootAsync`: exactly one of `useFactory`, `useClass`, `useExisting`, as in other Nest modules. */
export interface SidekickModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  readonly inject?: FactoryProvider['inject'];
  readonly useFactory?: (...args: never[]) => SidekickModuleOptions | Promise<SidekickModuleOptions>;
  readonly useClass?: Type<SidekickOptionsFactory>;
  readonly useExisting?: Type<SidekickOptionsFactory>;
}

/** `SidekickModule.forFeature({ stateStores })`. */
export interface SidekickFeatureOptions {
  /** State store names to inject with `@StateStore(name)` in this module's providers. */
  readonly stateStores?: readonly string[];
  /** Secrets to inject with `@Secret(store, name, key?)` in this module's providers. */
  readonly secrets?: readonly { readonly store: string; readonly name: string; readonly key?: string }[];
}

const RAW_OPTIONS = Symbol('SIDEKICK_RAW_OPTIONS');

/**
 * Adds Sidekick to a Nest app: `SidekickModule.forRoot({ appId: 'orders' })`. Global, so
 * `SidekickClient` and `@StateStore(name)` clients can be injected anywhere.
 */
@Module({})
export class SidekickModule implements NestModule {
  /** Every request to the app passes the tracing middleware (a plain `next()` unless tracing is on). */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(TracingMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }

  static forRoot(options: SidekickModuleOptions): DynamicModule {
    return SidekickModule.build([], [{ provide: RAW_OPTIONS, useValue: options }]);
  }

  static forRootAsync(options: SidekickModuleAsyncOptions): DynamicModule {
    const given = [options.useFactory, options.useClass, options.useExisting].filter((u) => u !== undefined).length;
    if (given !== 1) {
      throw new TypeError(`SidekickModule.forRootAsync needs exactly one of useFactory, useClass or useExisting (got ${given})`);
    }
    const imports = options.imports ?? [];
    if (options.useFactory) {
      return SidekickModule.build(imports, [
        {
          provide: RAW_OPTIONS,
          useFactory: options.useFactory as (...args: unknown[]) => SidekickModuleOptions | Promise<SidekickModuleOptions>,
          inject: options.inject ?? [],
        },
      ]);
    }
    const factoryType = (options.useClass ?? options.useExisting) as Type<SidekickOptionsFactory>;
    const providers: Provider[] = [{ provide: RAW_OPTIONS, useFactory: (f: SidekickOptionsFactory) => f.createSidekickOptions(), inject: [factoryType] }];
    if (options.useClass) providers.push(options.useClass);
    return SidekickModule.build(imports, providers);
  }

  /**
   * Declares the state stores this module injects with `@StateStore(name)`: the explicit way, which
   * works whatever the import order (also in lazily loaded modules). `forRoot` also declares every
   * name the `@StateStore` decorators had registered when it ran.
   */
  static forFeature(options: SidekickFeatureOptions): DynamicModule {
    const providers = [...storeClients(options.stateStores ?? []), ...secretValues((options.secrets ?? []).map((r) => secretRef(r.store, r.name, r.key)))];
    return { module: SidekickModule, providers, exports: providers };
  }

  private static build(imports: NonNullable<ModuleMetadata['imports']>, raw: Provider[]): DynamicModule {
    const clients = [...storeClients(requestedStateStores()), ...secretValues(requestedSecrets())];
    return {
      module: SidekickModule,
      global: true,
      imports: [DiscoveryModule, ...imports],
      providers: [
        ...raw,
        { provide: SIDEKICK_OPTIONS, useFactory: (o: SidekickModuleOptions) => resolveOptions(o), inject: [RAW_OPTIONS] },
        { provide: SIDEKICK_CLOCK, useFactory: (o: SidekickModuleOptions): Clock => o.clock ?? new SystemClock(), inject: [RAW_OPTIONS] },
        {
          provide: SIDEKICK_LOGGER,
          useFactory: (o: SidekickModuleOptions, r: ResolvedOptions): SidekickLogger =>
            o.logger ?? createDefaultLogger(r.appId, r.logLevel, r.logFormat, r.logColor),
          inject: [RAW_OPTIONS, SIDEKICK_OPTIONS],
        },
        SidekickExplorer,
        SidekickRuntime,
        {
          provide: SidekickClient,
          useFactory: (rt: SidekickRuntime) =>
            new SidekickClient(
              rt.service(StateService),
              rt.service(InvokeService),
              rt.service(PubSubService),
              rt.service(BindingsService),
              rt.service(SecretsService),
              rt.service(ConfigurationService),
              rt.service(LockService),
              rt.service(WorkflowClient),
              rt.service(ActorsService),
            ),
          inject: [SidekickRuntime],
        },
        ...clients,
      ],
      exports: [SidekickClient, SidekickRuntime, SIDEKICK_CLOCK, ...clients],
    };
  }
}

function storeClients(names: readonly string[]): Provider[] {
  return [...new Set(names)].map((name) => ({
    provide: getStateStoreToken(name),
    useFactory: (client: SidekickClient) => client.state(name),
    inject: [SidekickClient],
  }));
}

/**
 * One provider per `@Secret(store, name, key)`: its value, read while Nest builds the app's providers
 * (the components start then, ahead of module init), so it is in place when the constructor runs. A
 * missing or denied secret fails start-up naming it. Transient scope: Nest builds it only for the
 * providers that inject it (a singleton injecting it stays a singleton), so a `@Secret` on a class the
 * app does not use is never read; the value is read once per app (cached by the secrets service).
 */
function secretValues(refs: readonly SecretRef[]): Provider[] {
  const byToken = new Map(refs.map((r) => [getSecretToken(r.store, r.name, r.key), r]));
  return [...byToken].map(([token, ref]) => ({
    provide: token,
    scope: Scope.TRANSIENT,
    useFactory: (rt: SidekickRuntime) => rt.readAtStartup(() => rt.service(SecretsService).resolveAtStartup(ref)),
    inject: [SidekickRuntime],
  }));
}
