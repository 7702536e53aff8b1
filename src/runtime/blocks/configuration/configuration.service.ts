import { randomUUID } from 'node:crypto';
import type { OnConfigurationChangeOptions } from '../../../decorators/on-configuration-change.decorator';
import { ConfigError } from '../../../errors/config.errors';
import { ConfigurationStoresNotConfiguredError } from '../../../errors/configuration.errors';
import { errorMessage, SidekickError } from '../../../errors/sidekick.error';
import type { ConfigurationItems, ConfigurationStore, ConfigurationUnsubscribe, ConfigurationUpdate } from '../../../spi/configuration.store';
import type { SidekickLogger } from '../../../spi/logger';
import type { ComponentLookup } from '../../components/component.lookup';
import type { DiscoveredMethod } from '../../discovery/sidekick.explorer';
import type { Interception } from '../../interception/interception';

/** What an `@OnConfigurationChange` handler and a client subscription receive for each change. */
export interface ConfigurationChange {
  readonly store: string;
  /** The subscription's id. */
  readonly id: string;
  /** The changed keys with their new items; a deleted key maps to the empty item (value and version ''). */
  readonly items: ConfigurationItems;
  /** The keys of `items` that were deleted (or expired). */
  readonly deleted: readonly string[];
}

export type ConfigurationChangeHandler = (change: ConfigurationChange) => void | Promise<void>;

/** Who holds a subscription (listed in `/v1.0/metadata` as `configurationSubscriptions`). */
export type SubscriptionOrigin = 'http' | 'client' | `handler ${string}`;

interface ActiveSubscription {
  readonly id: string;
  readonly store: string;
  readonly keys: readonly string[];
  readonly origin: SubscriptionOrigin;
  readonly unsubscribe: ConfigurationUnsubscribe;
}

/** One `@OnConfigurationChange` handler. */
interface DiscoveredHandler {
  readonly instance: object;
  readonly methodName: string;
  readonly name: string;
  readonly options: OnConfigurationChangeOptions;
}

/**
 * The configuration building block: reads items, and manages subscriptions (the HTTP API's, the
 * client's and the `@OnConfigurationChange` handlers'), each with an id as daprd gives one.
 */
export class ConfigurationService {
  private readonly active = new Map<string, ActiveSubscription>();
  private handlers: DiscoveredHandler[] = [];

  constructor(
    private readonly stores: ComponentLookup<ConfigurationStore>,
    private readonly logger: SidekickLogger,
    private readonly interception: Interception,
  ) {}

  storeNames(): string[] {
    return this.stores.names();
  }

  /** The items of `keys` that exist (every item when `keys` is empty). */
  async get(store: string, keys: readonly string[] = [], metadata: Readonly<Record<string, string>> = {}): Promise<ConfigurationItems> {
    const component = await this.component(store);
    try {
      return await component.get(keys, metadata);
    } catch (err) {
      throw new SidekickError('ERR_CONFIGURATION_GET', `failed to get ${goList(keys)} from Configuration store ${store}: ${errorMessage(err)}`, {
        component: store,
        cause: err,
      });
    }
  }

  /** Subscribes `handler` to changes of `keys` (every key when empty); resolves once the store listens. */
  async subscribe(
    store: string,
    keys: readonly string[],
    handler: ConfigurationChangeHandler,
    metadata: Readonly<Record<string, string>> = {},
    origin: SubscriptionOrigin = 'client',
  ): Promise<{ readonly id: string; unsubscribe(): Promise<void> }> {
    const component = await this.component(store);
    const id = randomUUID();
    const deliver = (update: ConfigurationUpdate): void | Promise<void> => handler({ store, id, items: update.items, deleted: update.deleted });
    let unsubscribe: ConfigurationUnsubscribe;
    try {
      unsubscribe = await component.subscribe(keys, deliver, metadata);
    } catch (err) {
      throw new SidekickError('ERR_CONFIGURATION_SUBSCRIBE', `failed to subscribe ${goList(keys)} from Configuration store ${store}: ${errorMessage(err)}`, {
        component: store,
        cause: err,
      });
    }
    this.active.set(id, { id, store, keys: [...keys], origin, unsubscribe });
    return { id, unsubscribe: () => this.unsubscribe(store, id) };
  }

  /** Ends subscription `id` of `store`; an unknown id (or one of another store) is an error, as in daprd. */
  async unsubscribe(store: string, id: string): Promise<void> {
    await this.component(store);
    const sub = this.active.get(id);
    if (!sub || sub.store !== store) {
      throw new SidekickError(
        'ERR_CONFIGURATION_UNSUBSCRIBE',
        `failed to unsubscribe to configuration request ${id}: subscription with id ${id} does not exist`,
        {
          component: store,
        },
      );
    }
    this.active.delete(id);
    try {
      await sub.unsubscribe();
    } catch (err) {
      throw new SidekickError('ERR_CONFIGURATION_UNSUBSCRIBE', `failed to unsubscribe to configuration request ${id}: ${errorMessage(err)}`, {
        component: store,
        cause: err,
      });
    }
  }

  /** The live subscriptions, for `/v1.0/metadata`. */
  list(): readonly { readonly id: string; readonly store: string; readonly keys: readonly string[]; readonly origin: string }[] {
    return [...this.active.values()].map(({ id, store, keys, origin }) => ({ id, store, keys, origin }));
  }

  /** Checks every `@OnConfigurationChange` names a loaded configuration store. */
  prepare(methods: readonly DiscoveredMethod<readonly OnConfigurationChangeOptions[]>[]): void {
    const found = methods.flatMap((m) => m.metadata.map((options) => ({ instance: m.instance, methodName: m.methodName, name: m.name, options })));
    const names = this.storeNames();
    for (const handler of found) {
      if (names.includes(handler.options.store)) continue;
      throw new ConfigError(
        `@OnConfigurationChange({ store: "${handler.options.store}" }) on ${handler.name} names no loaded configuration store; configuration stores: ${names.join(', ') || 'none'}`,
        { component: handler.options.store },
      );
    }
    this.handlers = found;
  }

  /** Subscribes the `@OnConfigurationChange` handlers; their calls run through the `delivery` interceptors. */
  async start(): Promise<void> {
    for (const found of this.handlers) {
      const method = (found.instance as Record<string, unknown>)[found.methodName] as (change: ConfigurationChange) => unknown;
      const invoke = async (change: ConfigurationChange): Promise<void> => {
        await method.call(found.instance, change);
      };
      const call = { kind: 'delivery' as const, target: found.options.store, type: 'configuration', operation: found.name };
      const intercepted = this.interception.active('delivery');
      const handler = async (change: ConfigurationChange): Promise<void> => {
        try {
          await (intercepted
            ? this.interception.run({ ...call, attributes: { keys: Object.keys(change.items).join(',') } }, () => invoke(change))
            : invoke(change));
        } catch (err) {
          this.logger.error(
            { err, store: found.options.store, handler: found.name },
            `@OnConfigurationChange handler ${found.name} failed: ${errorMessage(err)}`,
          );
        }
      };
      const sub = await this.subscribe(found.options.store, found.options.keys ?? [], handler, found.options.metadata ?? {}, `handler ${found.name}`);
      this.logger.info({ store: found.options.store, keys: found.options.keys ?? [], handler: found.name, id: sub.id }, 'watching configuration');
    }
  }

  /** Ends every subscription (shutdown). */
  async stop(): Promise<void> {
    const subs = [...this.active.values()];
    this.active.clear();
    const results = await Promise.allSettled(subs.map((s) => s.unsubscribe()));
    results.forEach((r, i) => {
      if (r.status === 'rejected')
        this.logger.warn({ err: r.reason, id: subs[i]?.id }, `configuration subscription failed to stop cleanly: ${errorMessage(r.reason)}`);
    });
  }

  /** daprd's checks: no configuration store at all is 500 NOT_CONFIGURED, an unknown name 400 NOT_FOUND. */
  private async component(store: string): Promise<ConfigurationStore> {
    try {
      return (this.stores.now(store) ?? (await this.stores.later(store))).component;
    } catch (err) {
      if (this.storeNames().length === 0) throw new ConfigurationStoresNotConfiguredError();
      throw err;
    }
  }
}

/** A key list as daprd's messages print it (Go's `%s` of a []string). */
function goList(keys: readonly string[]): string {
  return `[${keys.join(' ')}]`;
}
