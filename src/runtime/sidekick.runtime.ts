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
import { loadResourcesDir } from '../config/component.loader';
import { resolveConfiguration, type SidekickConfiguration } from '../config/configuration.loader';
import { ConfigError } from '../errors/config.errors';
import { errorMessage } from '../errors/sidekick.error';
import { isInputBinding, isOutputBinding } from '../spi/binding';
import type { Clock } from '../spi/clock';
import type { ComponentFactory } from '../spi/component';
import type { SidekickLogger } from '../spi/logger';
import { allowsDirection } from './blocks/bindings/bindings.block';
import { BLOCKS } from './blocks/blocks.list';
import { type BlockContext, type BuildingBlock, deadlineIn, type ServiceType } from './blocks/building-block';
import type { SelfDispatcher } from './blocks/invoke/invoke.service';
import { BUILTIN_COMPONENT_TYPES } from './components/builtin-types';
import { ComponentManager, type LoadedComponent } from './components/component.manager';
import { SidekickExplorer } from './discovery/sidekick.explorer';
import { HttpApiServer } from './http-api/http-api.server';
import { type ComponentInfo, runtimeRoutes } from './http-api/runtime.routes';
import { unsupportedRoutes } from './http-api/unsupported.routes';
import { Interception } from './interception/interception';
import { Readiness } from './readiness';
import { startupSummary } from './startup-summary';
import { type ResolvedOptions, SIDEKICK_CLOCK, SIDEKICK_LOGGER, SIDEKICK_OPTIONS } from './sidekick.options';

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const CAPABILITIES = new Set(['ETAG', 'TRANSACTIONAL', 'QUERY_API', 'TTL', 'MESSAGE_TTL', 'BULK_PUBLISH', 'SUBSCRIBE_WILDCARDS']);

/**
 * The orchestrator. It builds the building blocks of `BLOCKS` in order and drives them through the
 * Nest lifecycle: module init loads components and `prepare`s each block; bootstrap `start`s them
 * and serves the Dapr HTTP API (the routes the blocks declare); shutdown `stop`s them in reverse by
 * one deadline, drains the HTTP API, and closes components in reverse order. It knows no block by
 * name: blocks find each other's services through the context.
 */
@Injectable()
export class SidekickRuntime implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly components: ComponentManager;
  private readonly readiness = new Readiness();
  private readonly blocks: BuildingBlock[] = [];
  private readonly services = new Map<unknown, object>();
  private readonly interception: Interception;
  private httpApi?: HttpApiServer;
  private apiAddress?: AddressInfo;
  private appConfiguration?: SidekickConfiguration;
  private componentsStarted?: Promise<void>;

  constructor(
    @Inject(SIDEKICK_OPTIONS) private readonly options: ResolvedOptions,
    @Inject(SIDEKICK_CLOCK) clock: Clock,
    @Inject(SIDEKICK_LOGGER) private readonly logger: SidekickLogger,
    private readonly explorer: SidekickExplorer,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    const interception = new Interception(options.interceptors);
    this.interception = interception;
    const factories: ComponentFactory[] = [...BUILTIN_COMPONENT_TYPES, ...options.componentTypes];
    this.components = new ComponentManager(options, factories, clock, logger, interception);
    const ctx: BlockContext = {
      options,
      appId: options.appId,
      clock,
      logger,
      components: this.components,
      readiness: this.readiness,
      interception,
      host: {
        dispatcher: () => this.adapterHost?.httpAdapter?.getInstance() as SelfDispatcher | undefined,
        httpServer: () => this.adapterHost?.httpAdapter?.getHttpServer() as Server | undefined,
        apiAddress: () => this.apiAddress,
      },
      service: <T>(type: ServiceType<T>): T => this.service(type),
      configuration: () => this.configuration,
    };
    for (const definition of BLOCKS) {
      const block = definition.create(ctx);
      for (const service of block.services ?? []) this.services.set(service.constructor, service);
      this.blocks.push(block);
    }
  }

  /** The app's `kind: Configuration` (loaded at module init, before components and blocks prepare). */
  get configuration(): SidekickConfiguration {
    if (!this.appConfiguration) throw new ConfigError('the Configuration is read at module init; it is not loaded yet');
    return this.appConfiguration;
  }

  /** A block's service by class (`StateService`, `PubSubService`, ...), for `SidekickClient` and other blocks. */
  service<T>(type: ServiceType<T>): T {
    const found = this.services.get(type);
    if (!found) throw new ConfigError(`no building block provides ${type.name}; blocks: ${this.blocks.map((b) => b.name).join(', ')}`);
    return found as T;
  }

  /**
   * Reads the Configuration and initialises the components, once: at module init, or earlier when a
   * provider needs a component's data to be built (`@Secret` values are injected into constructors,
   * so their providers await this while Nest instantiates the app's providers).
   */
  startComponents(): Promise<void> {
    this.componentsStarted ??= this.loadAndStartComponents();
    return this.componentsStarted;
  }

  /**
   * What a provider reads at start-up (an `@Secret` value), once the components are started. Its
   * failure fails start-up: the components are closed, since module init will not run.
   */
  async readAtStartup<T>(read: () => Promise<T>): Promise<T> {
    await this.startComponents();
    try {
      return await read();
    } catch (err) {
      this.readiness.markFailed(err as Error);
      await this.components.close();
      throw err;
    }
  }

  private async loadAndStartComponents(): Promise<void> {
    try {
      const resources = loadResourcesDir(this.options.resourcesPath, this.options.resourcesPathRequired);
      this.appConfiguration = resolveConfiguration({ config: this.options.config, resourceDocuments: resources.others }, this.logger);
      if (this.appConfiguration.source !== '(none)') {
        this.logger.info({ configuration: this.appConfiguration.name, file: this.appConfiguration.source }, 'Configuration loaded');
      }
      this.components.useResources(resources);
      // Cross-cutting blocks (tracing, metrics, resiliency) contribute interceptors once the Configuration is known.
      this.interception.installOuter(this.blocks.flatMap((b) => b.interceptors?.() ?? []));
      this.interception.lock();
      await this.components.start();
    } catch (err) {
      // Also when a provider started them: module init (which closes them on failure) then never runs.
      this.readiness.markFailed(err as Error);
      await this.components.close();
      throw err;
    }
  }

  async onModuleInit(): Promise<void> {
    try {
      const discovery = this.explorer.explore();
      await this.startComponents();
      for (const block of this.blocks) await block.prepare?.(discovery);
      this.readiness.markReady();
    } catch (err) {
      this.readiness.markFailed(err as Error);
      await this.components.close();
      throw err;
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const block of this.blocks) await block.start?.();
    if (this.options.httpApi.enabled) {
      const server = new HttpApiServer({ ...this.options.httpApi, appId: this.options.appId }, this.logger, this.interception);
      const routes = [
        ...runtimeRoutes({
          appId: this.options.appId,
          readiness: this.readiness,
          components: () => this.componentInfo(),
          contributions: () => this.blocks.map((b) => b.metadata?.() ?? {}),
          requestShutdown: () => this.requestShutdown(),
        }),
        ...this.blocks.flatMap((b) => b.routes?.() ?? []),
      ];
      for (const route of [...routes, ...unsupportedRoutes(routes.map((r) => r.path))]) server.add(route);
      const { host, apiToken, socketPath } = this.options.httpApi;
      if (!apiToken && !socketPath && !host.split(',').every((h) => isLoopback(h.trim()))) {
        this.logger.warn(
          { host },
          `the Dapr HTTP API listens on ${host}, reachable from other machines, with no API token: set DAPR_API_TOKEN (httpApi.apiToken) or bind it to 127.0.0.1`,
        );
      }
      this.apiAddress = await server.listen();
      this.httpApi = server;
      this.logger.info(
        { address: this.apiAddress ? `http://${this.apiAddress.address}:${this.apiAddress.port}` : `unix:${socketPath ?? ''}` },
        'Dapr HTTP API listening',
      );
    }
    this.logSummaryWhenListening();
  }

  async beforeApplicationShutdown(): Promise<void> {
    // Stop intake first, last block first: no new events or input; in-flight handlers finish and are acknowledged.
    const started = Date.now();
    this.logger.info({ drainTimeoutMs: this.options.drainTimeoutMs }, 'shutting down: stopping intake and draining in-flight handlers and requests');
    const deadline = deadlineIn(this.options.drainTimeoutMs);
    for (const block of [...this.blocks].reverse()) {
      try {
        await block.stop?.(deadline);
      } catch (err) {
        this.logger.error({ block: block.name, err: errorMessage(err) }, 'building block failed to stop cleanly');
      }
    }
    const cut = (await this.httpApi?.close(this.options.drainTimeoutMs)) ?? 0;
    this.httpApi = undefined;
    this.logger.info(
      { tookMs: Date.now() - started, apiRequestsCut: cut },
      cut === 0 ? 'drained: every in-flight handler and request finished' : 'drained, with requests cut at the deadline',
    );
  }

  /** One log line naming what runs, once the app's own server listens (its address is known then). */
  private logSummaryWhenListening(): void {
    const server = this.adapterHost?.httpAdapter?.getHttpServer() as Server | undefined;
    const log = (): void => {
      const address = server?.address();
      const parts = this.blocks.map((b) => b.summary?.() ?? {});
      const summary = startupSummary({
        appId: this.options.appId,
        appAddress:
          address && typeof address === 'object'
            ? `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`
            : undefined,
        apiAddress: this.apiAddress
          ? `http://${this.apiAddress.address}:${this.apiAddress.port}`
          : this.httpApi && this.options.httpApi.socketPath
            ? `unix:${this.options.httpApi.socketPath}`
            : undefined,
        components: this.components.list().map((c) => ({ name: c.spec.name, type: c.spec.type })),
        subscriptions: parts.flatMap((p) => p.subscriptions ?? []),
        bindings: parts.flatMap((p) => p.bindings ?? []),
      });
      this.logger.info(summary.fields, summary.msg);
    };
    if (server && typeof server.once === 'function' && !server.listening) server.once('listening', log);
    else log();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.components.close();
  }

  /**
   * `POST /v1.0/shutdown`, as daprd's: the app shuts down gracefully. Sidekick runs inside the app, so
   * it signals the process (SIGTERM); with `app.enableShutdownHooks()` Nest drains and closes, without
   * it the process ends at once.
   */
  private requestShutdown(): void {
    this.logger.info({}, 'shutdown requested through the Dapr HTTP API (POST /v1.0/shutdown)');
    process.kill(process.pid, 'SIGTERM');
  }

  /** Where the Dapr HTTP API listens (useful with port 0). */
  get httpApiAddress(): AddressInfo | undefined {
    return this.apiAddress;
  }

  /**
   * For tests (through `@sidekick/core/testing`): the loaded components as they were created
   * (unwrapped), by name. Not part of the application API.
   */
  inspectComponent(name: string): LoadedComponent | undefined {
    return this.components.get(name);
  }

  private componentInfo(): ComponentInfo[] {
    return this.components.list().map(({ spec, instance, metadata }) => {
      const features = 'features' in instance && Array.isArray(instance.features) ? (instance.features as string[]) : [];
      const capabilities = features.filter((f) => CAPABILITIES.has(f));
      // daprd reports ACTOR only for the one store marked as the actor state store.
      if (spec.kind === 'state' && Object.entries(metadata).some(([k, v]) => k.toLowerCase() === 'actorstatestore' && v.toLowerCase() === 'true'))
        capabilities.push('ACTOR');
      if (spec.kind === 'bindings') {
        if (isInputBinding(instance) && allowsDirection(metadata, 'input')) capabilities.push('INPUT_BINDING');
        if (isOutputBinding(instance) && allowsDirection(metadata, 'output')) capabilities.push('OUTPUT_BINDING');
      }
      return { name: spec.name, type: spec.type, version: spec.version, capabilities };
    });
  }
}
