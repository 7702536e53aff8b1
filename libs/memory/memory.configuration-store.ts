import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import {
  type ConfigurationItem,
  type ConfigurationItems,
  type ConfigurationStore,
  type ConfigurationUnsubscribe,
  type ConfigurationUpdateHandler,
  DELETED_ITEM,
  UpdateSequence,
} from '../../src/spi/configuration.store';
import type { SidekickLogger } from '../../src/spi/logger';
import { errorMessage } from '../../src/errors/sidekick.error';

interface Watcher {
  readonly keys: ReadonlySet<string>;
  readonly sequence: UpdateSequence;
}

/**
 * `configuration.in-memory`: items in a Map of this process, for tests and local development. Items
 * are written with {@link set} and {@link delete} (e.g. through `inspect(app).component(name)`); a
 * write without a version gets the next integer version of its key ("1", "2", ...).
 */
export class MemoryConfigurationStore implements ConfigurationStore {
  private readonly items = new Map<string, ConfigurationItem>();
  private readonly watchers = new Set<Watcher>();
  private logger?: SidekickLogger;
  private name = 'in-memory';

  init(init: ComponentInit): Promise<void> {
    this.logger = init.logger;
    this.name = init.name;
    return Promise.resolve();
  }

  close(): Promise<void> {
    for (const watcher of this.watchers) watcher.sequence.close();
    this.watchers.clear();
    return Promise.resolve();
  }

  get(keys: readonly string[]): Promise<ConfigurationItems> {
    const out: Record<string, ConfigurationItem> = {};
    for (const key of keys.length > 0 ? keys : this.items.keys()) {
      const item = this.items.get(key);
      if (item) out[key] = item;
    }
    return Promise.resolve(out);
  }

  subscribe(keys: readonly string[], handler: ConfigurationUpdateHandler): Promise<ConfigurationUnsubscribe> {
    const sequence = new UpdateSequence(handler, (err) =>
      this.logger?.error({ err, component: this.name }, `configuration update handler failed: ${errorMessage(err)}`),
    );
    const watcher: Watcher = { keys: new Set(keys), sequence };
    this.watchers.add(watcher);
    return Promise.resolve(() => {
      sequence.close();
      this.watchers.delete(watcher);
      return Promise.resolve();
    });
  }

  /** Writes an item and notifies the subscriptions watching its key. */
  set(key: string, value: string, version?: string, metadata: Readonly<Record<string, string>> = {}): ConfigurationItem {
    const previous = Number(this.items.get(key)?.version ?? '0');
    const item: ConfigurationItem = { value, version: version ?? String(Number.isSafeInteger(previous) ? previous + 1 : 1), metadata: { ...metadata } };
    this.items.set(key, item);
    this.notify(key, item, false);
    return item;
  }

  /** Removes an item; subscriptions watching it receive its deletion. */
  delete(key: string): boolean {
    const existed = this.items.delete(key);
    if (existed) this.notify(key, DELETED_ITEM, true);
    return existed;
  }

  private notify(key: string, item: ConfigurationItem, deleted: boolean): void {
    const update = { items: { [key]: item }, deleted: deleted ? [key] : [] };
    for (const watcher of this.watchers) {
      if (watcher.keys.size === 0 || watcher.keys.has(key)) watcher.sequence.push(() => update);
    }
  }
}

export const memoryConfigurationStoreFactory: ComponentFactory<MemoryConfigurationStore> = {
  type: 'configuration.in-memory',
  kind: 'configuration',
  versions: ['v1'],
  create: () => new MemoryConfigurationStore(),
};
