import type { Component } from './component';

/** One configuration item, as Dapr's configuration API returns it. */
export interface ConfigurationItem {
  readonly value: string;
  /** The store's version of the item (`''` when the store keeps none, e.g. a Redis value without `||version`). */
  readonly version: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Keys to their items. */
export type ConfigurationItems = Readonly<Record<string, ConfigurationItem>>;

/**
 * A change a store reports to a subscription: the changed keys with their new items. A deleted (or
 * expired) key is listed in `deleted` and maps to Dapr's empty item (`value` and `version` `''`).
 */
export interface ConfigurationUpdate {
  readonly items: ConfigurationItems;
  readonly deleted: readonly string[];
}

/** Receives the changes of one subscription, one at a time and in the order the store saw them. */
export type ConfigurationUpdateHandler = (update: ConfigurationUpdate) => void | Promise<void>;

/** Ends a subscription: no update is delivered once it resolved. Safe to call twice. */
export type ConfigurationUnsubscribe = () => Promise<void>;

/**
 * A configuration store (Dapr's `configuration.*` components): read items, and watch keys for changes.
 * Stores deliver the updates of one subscription sequentially (the next after the handler's promise
 * settled), never concurrently, so handlers see changes in order. A handler that throws is logged by
 * the store and does not end the subscription.
 */
export interface ConfigurationStore extends Component {
  /** The items of `keys` that exist; every item when `keys` is empty. */
  get(keys: readonly string[], metadata?: Readonly<Record<string, string>>): Promise<ConfigurationItems>;
  /**
   * Watches `keys` (every key when empty). Resolves once the store listens (changes made after it
   * resolved are delivered). A store that loses its connection listens again by itself.
   */
  subscribe(keys: readonly string[], handler: ConfigurationUpdateHandler, metadata?: Readonly<Record<string, string>>): Promise<ConfigurationUnsubscribe>;
}

export function isConfigurationStore(component: Component): component is ConfigurationStore {
  const c = component as Partial<ConfigurationStore>;
  return typeof c.get === 'function' && typeof c.subscribe === 'function';
}

/** Dapr's empty item: what a deleted key maps to in an update. */
export const DELETED_ITEM: ConfigurationItem = Object.freeze({ value: '', version: '', metadata: Object.freeze({}) });

/**
 * The state of one subscription's keys as last delivered, shared by the stores: it drops a change
 * that repeats what the handler already saw (a notification whose re-read finds the same item), and
 * after a reconnect turns a fresh read into the changes missed meanwhile.
 */
export class DeliveredItems {
  private readonly seen = new Map<string, ConfigurationItem | undefined>();

  /** Remembers items without delivering them (the state at subscribe time). */
  prime(items: ConfigurationItems): void {
    for (const [key, item] of Object.entries(items)) this.seen.set(key, item);
  }

  /** Remembers a delivered update as it is (a store whose notifications carry the item itself). */
  record(update: ConfigurationUpdate): void {
    for (const [key, item] of Object.entries(update.items)) this.seen.set(key, update.deleted.includes(key) ? undefined : item);
  }

  /** The part of `update` that differs from what was delivered (undefined when nothing does); remembers it. */
  changes(update: ConfigurationUpdate): ConfigurationUpdate | undefined {
    const items: Record<string, ConfigurationItem> = {};
    const deleted: string[] = [];
    for (const [key, item] of Object.entries(update.items)) {
      const gone = update.deleted.includes(key);
      const before = this.seen.get(key);
      if (gone ? this.seen.has(key) && before === undefined : before !== undefined && sameItem(before, item)) continue;
      this.seen.set(key, gone ? undefined : item);
      items[key] = gone ? DELETED_ITEM : item;
      if (gone) deleted.push(key);
    }
    return Object.keys(items).length === 0 ? undefined : { items, deleted };
  }

  /**
   * The update that brings a subscriber from what it saw to `current` (a read after a reconnect):
   * changed and new items, and the deletion of keys it saw that `current` lacks. `keys` = the watched
   * keys (empty = every key seen).
   */
  catchUp(current: ConfigurationItems, keys: readonly string[]): ConfigurationUpdate | undefined {
    const items: Record<string, ConfigurationItem> = { ...current };
    const deleted: string[] = [];
    const watched = keys.length > 0 ? keys : [...this.seen.keys()];
    for (const key of watched) {
      if (!(key in current) && this.seen.get(key) !== undefined) {
        items[key] = DELETED_ITEM;
        deleted.push(key);
      }
    }
    return this.changes({ items, deleted });
  }
}

export function sameItem(a: ConfigurationItem, b: ConfigurationItem): boolean {
  if (a.value !== b.value || a.version !== b.version) return false;
  const ka = Object.keys(a.metadata);
  return ka.length === Object.keys(b.metadata).length && ka.every((k) => a.metadata[k] === b.metadata[k]);
}

/**
 * Delivers one subscription's updates one after the other, in the order they were pushed: the next
 * update is produced (e.g. re-read from the store) only after the previous handler call settled.
 * A failure (of the read or of the handler) goes to `onError` and the sequence goes on.
 */
export class UpdateSequence {
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly handler: ConfigurationUpdateHandler,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Queues `produce`; its update (if any) goes to the handler unless the sequence was closed meanwhile. */
  push(produce: () => ConfigurationUpdate | undefined | Promise<ConfigurationUpdate | undefined>): void {
    this.tail = this.tail
      .then(async () => {
        if (this.closed) return;
        const update = await produce();
        if (update && !this.closed) await this.handler(update);
      })
      .catch(this.onError);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Nothing queued is delivered any more (a handler call already running finishes). */
  close(): void {
    this.closed = true;
  }

  /** Resolves when everything queued so far has settled (tests, shutdown). */
  idle(): Promise<void> {
    return this.tail;
  }
}
