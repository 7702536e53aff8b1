import { type DynamicModule, type FactoryProvider, Module, type ModuleMetadata, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { getStateStoreToken } from '../decorators/constants';
import { requestedStateStores } from '../decorators/state-store.decorator';
import type { Clock } from '../spi/clock';
import type { SidekickLogger } from '../spi/logger';
import { SidekickExplorer } from './discovery/sidekick.explorer';
import { createDefaultLogger } from './logger';
import { SidekickClient } from './sidekick.client';
import { resolveOptions, type ResolvedOptions, SIDEKICK_CLOCK, SIDEKICK_LOGGER, SIDEKICK_OPTIONS, type SidekickModuleOptions } from './sidekick.options';
import { SidekickRuntime } from './sidekick.runtime';
import { SystemClock } from './time/system.clock';

export interface SidekickModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  readonly inject?: FactoryProvider['inject'];
  readonly useFactory: (...args: never[]) => SidekickModuleOptions | Promise<SidekickModuleOptions>;
}

const RAW_OPTIONS = Symbol('SIDEKICK_RAW_OPTIONS');

/**
 * Adds Sidekick to a Nest app: `SidekickModule.forRoot({ appId: 'orders' })`. Global, so
 * `SidekickClient` and `@StateStore(name)` clients can be injected anywhere.
 */
@Module({})
export class SidekickModule {
  static forRoot(options: SidekickModuleOptions): DynamicModule {
    return SidekickModule.build([], { provide: RAW_OPTIONS, useValue: options });
  }

  static forRootAsync(options: SidekickModuleAsyncOptions): DynamicModule {
    return SidekickModule.build(options.imports ?? [], {
      provide: RAW_OPTIONS,
      useFactory: options.useFactory as (...args: unknown[]) => SidekickModuleOptions | Promise<SidekickModuleOptions>,
      inject: options.inject ?? [],
    });
  }

  private static build(imports: NonNullable<ModuleMetadata['imports']>, raw: Provider): DynamicModule {
    const storeClients: Provider[] = requestedStateStores().map((name) => ({
      provide: getStateStoreToken(name),
      useFactory: (client: SidekickClient) => client.state(name),
      inject: [SidekickClient],
    }));
    return {
      module: SidekickModule,
      global: true,
      imports: [DiscoveryModule, ...imports],
      providers: [
        raw,
        { provide: SIDEKICK_OPTIONS, useFactory: (o: SidekickModuleOptions) => resolveOptions(o), inject: [RAW_OPTIONS] },
        { provide: SIDEKICK_CLOCK, useFactory: (o: SidekickModuleOptions): Clock => o.clock ?? new SystemClock(), inject: [RAW_OPTIONS] },
        {
          provide: SIDEKICK_LOGGER,
          useFactory: (o: SidekickModuleOptions, r: ResolvedOptions): SidekickLogger => o.logger ?? createDefaultLogger(r.appId),
          inject: [RAW_OPTIONS, SIDEKICK_OPTIONS],
        },
        SidekickExplorer,
        SidekickRuntime,
        { provide: SidekickClient, useFactory: (rt: SidekickRuntime) => new SidekickClient(rt.state, rt.invoke, rt.pubsub, rt.bindings), inject: [SidekickRuntime] },
        ...storeClients,
      ],
      exports: [SidekickClient, SidekickRuntime, SIDEKICK_CLOCK, ...storeClients],
    };
  }
}
