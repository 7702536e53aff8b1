import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadSubscriptions } from '../config/subscription.loader';
import { ConfigError } from '../errors/config.errors';
import type { Clock } from '../spi/clock';
import type { ComponentFactory } from '../spi/component';
import type { SidekickLogger } from '../spi/logger';
import type { NameResolver } from '../spi/name-resolver';
import { InvokeService, type SelfDispatcher } from './blocks/invoke/invoke.service';
import { LocalRegistry, StaticNameResolver } from './blocks/invoke/local-registry';
import { BindingsService } from './blocks/bindings/bindings.service';
import { DeliveryPolicy } from './blocks/pubsub/delivery.policy';
import { PubSubService } from './blocks/pubsub/pubsub.service';
import { SubscriptionsManager } from './blocks/pubsub/subscriptions.manager';
import { StateService } from './blocks/state/state.service';
import { BUILTIN_COMPONENT_TYPES } from './components/builtin-types';
import { ComponentManager } from './components/component.manager';
import { type DiscoveredRecords, SidekickExplorer } from './discovery/sidekick.explorer';
import { mountHttpApi } from './http-api/http-api.routes';
import { HttpApiServer } from './http-api/http-api.server';
import { Readiness } from './readiness';
import { type ResolvedOptions, SIDEKICK_CLOCK, SIDEKICK_LOGGER, SIDEKICK_OPTIONS } from './sidekick.options';

/**
 * The orchestrator: loads components at module init (before the app listens), serves the Dapr HTTP
 * API and joins the local registry at bootstrap, drains on `beforeApplicationShutdown` and closes
 * components on `onApplicationShutdown`.
 */
@Injectable()
export class SidekickRuntime implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  readonly components: ComponentManager;
  readonly state: StateService;
  readonly invoke: InvokeService;
  readonly pubsub: PubSubService;
  readonly subscriptions: SubscriptionsManager;
  readonly bindings: BindingsService;
  readonly readiness = new Readiness();
  private readonly registry?: LocalRegistry;
  private httpApi?: HttpApiServer;
  private apiAddress?: AddressInfo;
  private discovered: DiscoveredRecords = { stateStores: [], subscriptions: [], bindings: [] };
  private joined = false;

  constructor(
    @Inject(SIDEKICK_OPTIONS) readonly options: ResolvedOptions,
    @Inject(SIDEKICK_CLOCK) readonly clock: Clock,
    @Inject(SIDEKICK_LOGGER) private readonly logger: SidekickLogger,
    private readonly explorer: SidekickExplorer,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    const factories: ComponentFactory[] = [...BUILTIN_COMPONENT_TYPES, ...options.componentTypes];
    this.components = new ComponentManager(options, factories, clock, logger);
    this.state = new StateService(this.components, options.appId, this.readiness);
    const resolvers: NameResolver[] = [new StaticNameResolver(options.nameResolution.static), ...options.nameResolution.resolvers];
    if (options.nameResolution.localRegistry) {
      this.registry = new LocalRegistry(options.nameResolution.localRegistry);
      resolvers.push(this.registry);
    }
    this.invoke = new InvokeService(options.appId, resolvers, clock, options.invokeTimeoutMs);
    this.pubsub = new PubSubService(this.components, options.appId, clock, this.readiness);
    const policy = new DeliveryPolicy(clock, options.pubsubRetry);
    this.subscriptions = new SubscriptionsManager(this.pubsub, this.invoke, policy, clock, logger, options.appId);
    this.bindings = new BindingsService(this.components, this.readiness, logger);
  }

  async onModuleInit(): Promise<void> {
    try {
      this.discovered = this.explorer.explore();
      await this.components.start();
      this.checkStateStoreUsages();
      await this.subscriptions.prepare(this.discovered.subscriptions, loadSubscriptions(this.components.otherDocuments));
      this.bindings.prepare(this.discovered.bindings);
      this.readiness.markReady();
    } catch (err) {
      this.readiness.markFailed(err as Error);
      await this.components.close();
      throw err;
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    const adapter = this.adapterHost?.httpAdapter;
    this.invoke.setSelfDispatcher(adapter ? (adapter.getInstance() as SelfDispatcher) : undefined);
    await this.subscriptions.start();
    await this.bindings.start();
    if (this.options.httpApi.enabled) {
      const server = new HttpApiServer(this.options.httpApi, this.clock, this.logger);
      mountHttpApi(server, this);
      this.apiAddress = await server.listen();
      this.httpApi = server;
      this.logger.info({ address: `http://${this.apiAddress.address}:${this.apiAddress.port}` }, 'Dapr HTTP API listening');
    }
    this.joinRegistryWhenListening(adapter?.getHttpServer() as Server | undefined);
  }

  async beforeApplicationShutdown(): Promise<void> {
    // Stop intake first: no new events or input; in-flight handlers finish and are acknowledged.
    await this.bindings.stop();
    await this.subscriptions.stop(this.options.drainTimeoutMs);
    if (this.registry && this.joined) this.registry.leave(this.options.appId, process.pid);
    this.joined = false;
    await this.httpApi?.close(this.options.drainTimeoutMs);
    this.httpApi = undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.components.close();
  }

  /** Where the Dapr HTTP API listens (useful with port 0). */
  get httpApiAddress(): AddressInfo | undefined {
    return this.apiAddress;
  }

  get discoveredRecords(): DiscoveredRecords {
    return this.discovered;
  }

  private checkStateStoreUsages(): void {
    const names = this.state.storeNames();
    for (const usage of this.discovered.stateStores) {
      if (!names.includes(usage.store)) {
        throw new ConfigError(
          `@StateStore("${usage.store}") in ${usage.className} names no loaded state store; configured state stores: ${names.join(', ') || 'none'}`,
          { component: usage.store },
        );
      }
    }
  }

  private joinRegistryWhenListening(server: Server | undefined): void {
    const registry = this.registry;
    if (!registry || !server || typeof server.address !== 'function') return;
    const join = (): void => {
      const address = server.address();
      if (!address || typeof address === 'string') return;
      const host = address.address === '::' || address.address === '0.0.0.0' ? '127.0.0.1' : address.address.includes(':') ? `[${address.address}]` : address.address;
      registry.join({
        appId: this.options.appId,
        pid: process.pid,
        baseUrl: `http://${host}:${address.port}`,
        httpApiUrl: this.apiAddress ? `http://${this.apiAddress.address}:${this.apiAddress.port}` : undefined,
        startedAt: new Date(this.clock.now()).toISOString(),
      });
      this.joined = true;
    };
    if (server.listening) join();
    else server.once('listening', join);
  }
}
