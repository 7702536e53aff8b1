import { join } from 'node:path';
import { type ComponentSpec, inlineComponent, type LoadedResources, loadResourcesDir, type OtherDocument } from '../../config/component.loader';
import { ComponentInitError, ConfigError } from '../../errors/config.errors';
import { redactSecrets, isSecretField } from '../../errors/redact';
import { errorMessage } from '../../errors/sidekick.error';
import { type Clock, withDeadline } from '../../spi/clock';
import type { Component, ComponentFactory, ComponentKind, ComponentMetadata } from '../../spi/component';
import type { SidekickLogger } from '../../spi/logger';
import { componentInit } from '../../spi/metadata-reader';
import { isInputBinding, isOutputBinding } from '../../spi/binding';
import type { SecretStore } from '../../spi/secret.store';
import { type Interception, NO_INTERCEPTION } from '../interception/interception';
import { NameRegistry } from '../registry/name.registry';
import type { ResolvedOptions } from '../sidekick.options';
import type { ComponentSource } from './component.lookup';

export interface LoadedComponent {
  readonly spec: ComponentSpec;
  /** The component itself (closed on shutdown). */
  readonly instance: Component;
  /** What blocks call: the instance, or its interceptor wrapper when interceptors watch component calls. */
  readonly used: Component;
  /** `spec.metadata` as plain values (secret references unresolved), for runtime-level keys. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** The methods each kind's SPI requires: checked on the instance a factory creates. */
const REQUIRED_METHODS: Partial<Record<ComponentKind, readonly string[]>> = {
  state: ['get', 'bulkGet', 'set', 'delete', 'transact'],
  pubsub: ['publish', 'subscribe'],
  secretstores: ['getSecret', 'bulkGetSecret'],
  configuration: ['get', 'subscribe'],
  lock: ['tryLock', 'unlock'],
};

/**
 * Builds the app's components: reads YAML and inline definitions, applies scopes, adds the embedded
 * default state store, resolves secrets, and initialises each one with its timeout. Closes them in
 * reverse order on shutdown.
 */
export class ComponentManager implements ComponentSource {
  private readonly types = new NameRegistry<ComponentFactory>('component type');
  private readonly loaded = new NameRegistry<LoadedComponent>('component');
  private readonly order: LoadedComponent[] = [];
  private resources?: LoadedResources;
  private readonly failures = new Map<string, string>();

  constructor(
    private readonly options: ResolvedOptions,
    factories: readonly ComponentFactory[],
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
    private readonly interception: Interception = NO_INTERCEPTION,
  ) {
    for (const factory of factories) this.types.register(factory.type, factory, `component type ${factory.type}`);
  }

  /** Loads and initialises every component. Throws a `ConfigError`/`ComponentInitError` that names the file. */
  async start(): Promise<void> {
    const specs = this.collectSpecs(this.useResources());
    const kindRank = (s: ComponentSpec): number => (s.kind === 'secretstores' ? 0 : 1);
    for (const spec of [...specs].sort((a, b) => kindRank(a) - kindRank(b))) await this.initOne(spec);
    this.loaded.freeze();
  }

  async close(): Promise<void> {
    for (const component of [...this.order].reverse()) {
      try {
        await component.instance.close();
      } catch (err) {
        this.logger.error({ component: component.spec.name, err: errorMessage(err) }, 'component failed to close');
      }
    }
    this.order.length = 0;
  }

  get(name: string): LoadedComponent | undefined {
    return this.loaded.get(name);
  }

  list(kind?: ComponentKind): LoadedComponent[] {
    return this.order.filter((c) => kind === undefined || c.spec.kind === kind);
  }

  listInstances(kind: ComponentKind): readonly { name: string; instance: Component; metadata: Readonly<Record<string, string>> }[] {
    return this.list(kind).map((c) => ({ name: c.spec.name, instance: c.used, metadata: c.metadata }));
  }

  failure(name: string): string | undefined {
    return this.failures.get(name);
  }

  private secretStore(name: string): SecretStore | undefined {
    const c = this.loaded.get(name);
    return c?.spec.kind === 'secretstores' ? (c.used as SecretStore) : undefined;
  }

  /**
   * The resources path's documents, read once: those given (the runtime reads them first, for the
   * Configuration), else read now. Their other documents are readable from then on, before components
   * initialise: cross-cutting blocks (resiliency) read theirs while contributing interceptors.
   */
  useResources(given?: LoadedResources): LoadedResources {
    this.resources ??= given ?? loadResourcesDir(this.options.resourcesPath, this.options.resourcesPathRequired);
    return this.resources;
  }

  /** YAML documents of other kinds (Subscription, Resiliency, ...) for the blocks that read them. */
  get otherDocuments(): readonly OtherDocument[] {
    return this.resources?.others ?? [];
  }

  private collectSpecs(resources: LoadedResources): ComponentSpec[] {
    const all = [...resources.components, ...this.options.components.map((c) => inlineComponent(c))];
    const names = new NameRegistry<ComponentSpec>('component');
    const specs: ComponentSpec[] = [];
    for (const spec of all) {
      if (spec.scopes && spec.scopes.length > 0 && !spec.scopes.includes(this.options.appId)) {
        this.logger.debug({ component: spec.name, scopes: spec.scopes }, 'component not loaded: app id not in its scopes');
        continue;
      }
      names.register(spec.name, spec, spec.source);
      this.factoryFor(spec);
      specs.push(spec);
    }
    if (!specs.some((s) => s.kind === 'state')) specs.push(this.defaultStateStore());
    if (!specs.some((s) => s.kind === 'pubsub')) specs.push(this.defaultPubSub());
    return specs;
  }

  private defaultPubSub(): ComponentSpec {
    this.logger.info({ component: 'pubsub' }, 'no pub/sub configured: using the embedded in-memory default');
    return {
      name: 'pubsub',
      type: 'pubsub.in-memory',
      kind: 'pubsub',
      version: 'v1',
      metadata: [],
      initTimeoutMs: 5000,
      ignoreErrors: false,
      source: '(default)',
    };
  }

  private defaultStateStore(): ComponentSpec {
    const file = join(this.options.dataDir, 'state.db');
    this.logger.info({ component: 'statestore', file }, 'no state store configured: using the embedded SQLite default');
    return {
      name: 'statestore',
      type: 'state.sqlite',
      kind: 'state',
      version: 'v1',
      // The default store is also the actor state store (as `dapr init`'s statestore.yaml marks its Redis store).
      metadata: [
        { name: 'connectionString', value: file },
        { name: 'actorStateStore', value: 'true' },
      ],
      initTimeoutMs: 5000,
      ignoreErrors: false,
      source: '(default)',
    };
  }

  private factoryFor(spec: ComponentSpec): ComponentFactory {
    const factory = this.types.get(spec.type);
    if (!factory) {
      const sameKind = this.types
        .values()
        .filter((f) => f.kind === spec.kind)
        .map((f) => f.type);
      const known = sameKind.length > 0 ? `known ${spec.kind} types: ${sameKind.join(', ')}` : `this runtime has no ${spec.kind} component types yet`;
      throw new ConfigError(`unknown component type "${spec.type}"; ${known}`, {
        file: spec.source,
        component: spec.name,
        field: 'spec.type',
      });
    }
    if (!factory.versions.includes(spec.version)) {
      throw new ConfigError(`version "${spec.version}" is not supported by ${spec.type}; use ${factory.versions.join(' or ')}`, {
        file: spec.source,
        component: spec.name,
        field: 'spec.version',
      });
    }
    return factory;
  }

  private async initOne(spec: ComponentSpec): Promise<void> {
    const instance = this.factoryFor(spec).create();
    checkShape(spec, instance);
    let metadata: ComponentMetadata = {};
    try {
      metadata = await this.resolveMetadata(spec);
      const init = componentInit({
        name: spec.name,
        type: spec.type,
        appId: this.options.appId,
        metadata,
        clock: this.clock,
        logger: this.logger.child({ component: spec.name }),
        source: spec.source,
      });
      await withDeadline(
        spec.initTimeoutMs,
        () => instance.init(init),
        () => new Error(`init did not finish within ${spec.initTimeoutMs} ms (spec.initTimeout)`),
      );
      for (const unknown of init.meta.unknownKeyWarnings()) {
        this.logger.warn({ component: spec.name, source: spec.source, key: unknown.key, suggestion: unknown.suggestion }, unknown.message);
      }
    } catch (err) {
      await instance.close().catch((closeErr: unknown) => {
        this.logger.debug({ component: spec.name, err: errorMessage(closeErr) }, 'close after failed init also failed');
      });
      const error = sanitised(err, spec, metadata);
      if (spec.ignoreErrors) {
        this.failures.set(spec.name, error.message);
        this.logger.warn({ component: spec.name, err: error.message }, 'component failed to initialise; ignoreErrors is set, starting without it');
        return;
      }
      throw error;
    }
    const used = this.interception.wrapComponent(instance, spec.name, spec.type, spec.kind);
    const plain = Object.fromEntries(spec.metadata.filter((m) => m.value !== undefined).map((m) => [m.name, m.value ?? '']));
    const loaded: LoadedComponent = { spec, instance, used, metadata: plain };
    this.loaded.register(spec.name, loaded, spec.source);
    this.order.push(loaded);
    this.logger.info({ component: spec.name, type: spec.type, source: spec.source }, 'component ready');
  }

  private async resolveMetadata(spec: ComponentSpec): Promise<ComponentMetadata> {
    const out: Record<string, string> = {};
    for (const [i, item] of spec.metadata.entries()) {
      if (!item.secretKeyRef) {
        out[item.name] = item.value ?? '';
        continue;
      }
      const context = { file: spec.source, component: spec.name, field: `spec.metadata[${i}].secretKeyRef` };
      const storeName = spec.secretStore ?? '';
      const store = this.secretStore(storeName);
      if (!store) {
        const known = this.list('secretstores').map((c) => c.spec.name);
        throw new ConfigError(`secret store "${storeName}" (auth.secretStore) is not loaded; loaded secret stores: ${known.join(', ') || 'none'}`, context);
      }
      const secret = await store.getSecret(item.secretKeyRef.name);
      const key = item.secretKeyRef.key ?? item.secretKeyRef.name;
      const value = secret?.[key];
      if (value === undefined) {
        throw new ConfigError(`secret "${item.secretKeyRef.name}" (key "${key}") was not found in secret store "${storeName}"`, context);
      }
      out[item.name] = value;
    }
    return out;
  }
}

/**
 * The init error without secrets: credentials in URLs and connection strings, values of secret fields
 * and of secretKeyRefs are replaced by `***` in its message (and its cause is not kept), since Nest
 * logs it whole.
 */
function sanitised(err: unknown, spec: ComponentSpec, metadata: ComponentMetadata): Error {
  const secrets = Object.entries(metadata)
    .filter(([name]) => isSecretField(name) || spec.metadata.some((m) => m.name === name && m.secretKeyRef))
    .map(([, value]) => value);
  if (err instanceof ConfigError) {
    err.message = redactSecrets(err.message, secrets);
    err.stack = err.stack === undefined ? undefined : redactSecrets(err.stack, secrets);
    return err;
  }
  return new ComponentInitError(spec.name, spec.type, spec.source, new Error(redactSecrets(errorMessage(err), secrets)));
}

/** A factory whose instances do not implement their kind's SPI fails start-up, naming what is missing. */
function checkShape(spec: ComponentSpec, instance: Component): void {
  const proto = instance as unknown as Record<string, unknown>;
  let missing = (REQUIRED_METHODS[spec.kind] ?? []).filter((m) => typeof proto[m] !== 'function');
  if (spec.kind === 'bindings' && !isInputBinding(instance) && !isOutputBinding(instance)) missing = ['read (input) or invoke + operations (output)'];
  if (typeof proto['init'] !== 'function' || typeof proto['close'] !== 'function') missing = ['init', 'close', ...missing];
  if (missing.length > 0) {
    throw new ConfigError(`component type ${spec.type} created an instance that does not implement the ${spec.kind} SPI: missing ${missing.join(', ')}`, {
      file: spec.source,
      component: spec.name,
      field: 'spec.type',
    });
  }
}
