import type { ConfigurationItems } from '../../../spi/configuration.store';
import type { ConfigurationChange, ConfigurationService } from './configuration.service';

export interface ConfigurationSubscribeOptions {
  /** Subscribe metadata for the store (e.g. `pgNotifyChannel` for `configuration.postgresql`). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** `sidekick.configuration`: read configuration items and watch them change. */
export class ConfigurationClient {
  constructor(private readonly service: ConfigurationService) {}

  /** The items of `keys` that exist; every item of the store when `keys` is empty. */
  get(store: string, keys: readonly string[] = [], metadata: Readonly<Record<string, string>> = {}): Promise<ConfigurationItems> {
    return this.service.get(store, keys, metadata);
  }

  /**
   * Watches `keys` (every key when empty): `for await (const change of sub) {...}`. Resolves once the
   * store listens. Changes are buffered until read; `break` out of the loop or `unsubscribe()` ends it.
   */
  async subscribe(store: string, keys: readonly string[] = [], options: ConfigurationSubscribeOptions = {}): Promise<ConfigurationSubscription> {
    const subscription = new ConfigurationSubscription();
    const handle = await this.service.subscribe(store, keys, (change) => subscription.push(change), options.metadata ?? {}, 'client');
    subscription.attach(handle.id, () => handle.unsubscribe());
    return subscription;
  }
}

/** A live configuration subscription: an async iterator of changes, in order. */
export class ConfigurationSubscription implements AsyncIterableIterator<ConfigurationChange> {
  private subscriptionId = '';
  private stop: () => Promise<void> = () => Promise.resolve();
  private readonly buffered: ConfigurationChange[] = [];
  private readonly waiting: ((result: IteratorResult<ConfigurationChange>) => void)[] = [];
  private ended = false;
  private stopping?: Promise<void>;

  /** The subscription id (daprd's `id`). */
  get id(): string {
    return this.subscriptionId;
  }

  /** @internal */
  attach(id: string, stop: () => Promise<void>): void {
    this.subscriptionId = id;
    this.stop = stop;
  }

  /** @internal */
  push(change: ConfigurationChange): void {
    if (this.ended) return;
    const waiter = this.waiting.shift();
    if (waiter) waiter({ value: change, done: false });
    else this.buffered.push(change);
  }

  next(): Promise<IteratorResult<ConfigurationChange>> {
    const change = this.buffered.shift();
    if (change) return Promise.resolve({ value: change, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Called by `break` in a `for await`: unsubscribes. */
  async return(): Promise<IteratorResult<ConfigurationChange>> {
    await this.unsubscribe();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ConfigurationChange> {
    return this;
  }

  /** Stops the subscription; a pending `next()` ends, changes already buffered are dropped. Safe to call twice. */
  unsubscribe(): Promise<void> {
    if (!this.stopping) {
      this.ended = true;
      this.buffered.length = 0;
      for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
      this.stopping = this.stop();
    }
    return this.stopping;
  }
}
