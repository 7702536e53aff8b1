import type { Redis, RedisOptions } from 'ioredis';
import { BackendError, errorMessage } from '../../src/errors/sidekick.error';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import {
  type ConfigurationItem,
  type ConfigurationItems,
  type ConfigurationStore,
  type ConfigurationUnsubscribe,
  type ConfigurationUpdate,
  type ConfigurationUpdateHandler,
  DELETED_ITEM,
  DeliveredItems,
  UpdateSequence,
} from '../../src/spi/configuration.store';
import type { SidekickLogger } from '../../src/spi/logger';
import { connectRedis, quitRedis, redisOptionsFromMetadata } from './redis.connection';

/*
 * Layout, as daprd's configuration.redis: every item is a plain Redis string `value||version` (or
 * just `value`, version ''), the key being the item's key. Strings with an empty value, and keys
 * that are not strings, are not items.
 *
 * Subscriptions use keyspace notifications, as daprd: SUBSCRIBE `__keyspace@<db>__:<key>` per key,
 * PSUBSCRIBE `__keyspace@<db>__:*` for every key. On a notification the key is read again (GET) and
 * the item delivered; `del`, `expired` and `evicted` are deletions. daprd sets the server's
 * `notify-keyspace-events` to `Kg$xe` on each subscribe; Sidekick adds those flags to the ones the
 * server already has (so other users of the server keep theirs), and again after a reconnect (a
 * restarted server forgets it). When CONFIG is refused (managed Redis), a warning says what to set.
 */

/** The keyspace event classes a subscription needs: K (keyspace channel), g (del, expire...), $ (strings), x (expired), e (evicted). */
const NEEDED_FLAGS = 'Kg$xe';
/** What `A` stands for in notify-keyspace-events. */
const ALIAS_A = 'g$lshzxetd';
const DELETIONS = new Set(['del', 'expired', 'evicted']);
const SCAN_COUNT = 500;
/** How long a resume after a reconnect keeps trying (the command connection may still be reconnecting). */
const RESUME_ATTEMPTS = 40;
const RESUME_SPACING_MS = 250;

interface Watch {
  readonly keys: readonly string[];
  readonly sequence: UpdateSequence;
  readonly delivered: DeliveredItems;
}

/** Splits `value||version` as daprd does (Go's strings.Split: value = part 0, version = part 1). */
export function parseRedisItem(raw: string): ConfigurationItem {
  const parts = raw.split('||');
  return { value: parts[0] ?? '', version: parts[1] ?? '', metadata: {} };
}

/** `configuration.redis`: daprd-compatible items in Redis strings, changes from keyspace notifications. */
export class RedisConfigurationStore implements ConfigurationStore {
  private client!: Redis;
  private subscriber?: Redis;
  private connectingSubscriber?: Promise<Redis>;
  private options!: RedisOptions;
  private clock!: ComponentInit['clock'];
  private name = 'redis';
  private address = '';
  private db = 0;
  private logger!: SidekickLogger;
  private closed = false;
  private connected = false;
  private warnedConfig = false;
  /** Exact keyspace channel → the watches of that key. */
  private readonly byChannel = new Map<string, Set<Watch>>();
  /** Watches of every key (one PSUBSCRIBE shared). */
  private readonly allKeys = new Set<Watch>();

  async init(init: ComponentInit): Promise<void> {
    this.clock = init.clock;
    this.name = init.name;
    this.logger = init.logger;
    const { options, address } = redisOptionsFromMetadata(init);
    this.options = options;
    this.address = address;
    this.db = options.db ?? 0;
    this.client = await connectRedis(options, {
      address,
      clock: init.clock,
      logger: this.logger,
      name: this.name,
      reconnectWhile: () => this.connected && !this.closed,
    });
    this.connected = true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of this.watches()) watch.sequence.close();
    this.byChannel.clear();
    this.allKeys.clear();
    const subscriber = this.subscriber ?? (await this.connectingSubscriber?.catch(() => undefined));
    if (subscriber) await quitRedis(subscriber, this.logger);
    if (this.client) await quitRedis(this.client, this.logger);
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async get(keys: readonly string[]): Promise<ConfigurationItems> {
    try {
      const names = keys.length > 0 ? [...keys] : await this.allKeyNames();
      const out: Record<string, ConfigurationItem> = {};
      for (let i = 0; i < names.length; i += SCAN_COUNT) {
        const slice = names.slice(i, i + SCAN_COUNT);
        // MGET answers nil for a missing key and for a key that is not a string (daprd skips those too).
        const values = await this.client.mget(...slice);
        slice.forEach((key, j) => {
          const raw = values[j];
          if (raw === null || raw === undefined) return;
          const item = parseRedisItem(raw);
          if (item.value !== '') out[key] = item;
        });
      }
      return out;
    } catch (err) {
      throw new BackendError(this.name, `redis at ${this.address}: ${errorMessage(err)}`, err);
    }
  }

  async subscribe(keys: readonly string[], handler: ConfigurationUpdateHandler): Promise<ConfigurationUnsubscribe> {
    if (this.closed) throw new BackendError(this.name, `configuration store ${this.name} is closed`);
    const subscriber = await this.subscriberClient();
    await this.enableNotifications();
    const watch: Watch = {
      keys: [...new Set(keys)],
      sequence: new UpdateSequence(handler, (err) => this.logger.error({ err, component: this.name }, `configuration update failed: ${errorMessage(err)}`)),
      delivered: new DeliveredItems(),
    };
    // What the subscriber has seen is the state now: a later change that re-reads the same item is no change.
    if (watch.keys.length > 0) watch.delivered.prime(await this.get(watch.keys));
    try {
      if (watch.keys.length === 0) {
        if (this.allKeys.size === 0) await subscriber.psubscribe(this.channel('*'));
        this.allKeys.add(watch);
      } else {
        for (const key of watch.keys) {
          const channel = this.channel(key);
          let set = this.byChannel.get(channel);
          if (!set) {
            set = new Set();
            this.byChannel.set(channel, set);
            await subscriber.subscribe(channel);
          }
          set.add(watch);
        }
      }
    } catch (err) {
      await this.unwatch(watch);
      throw new BackendError(this.name, `redis at ${this.address}: subscribing to keyspace notifications failed: ${errorMessage(err)}`, err);
    }
    return () => this.unwatch(watch);
  }

  private async unwatch(watch: Watch): Promise<void> {
    watch.sequence.close();
    const subscriber = this.subscriber;
    if (watch.keys.length === 0) {
      if (this.allKeys.delete(watch) && this.allKeys.size === 0 && subscriber && !this.closed)
        await this.quietly(() => subscriber.punsubscribe(this.channel('*')));
      return;
    }
    for (const key of watch.keys) {
      const channel = this.channel(key);
      const set = this.byChannel.get(channel);
      if (!set?.delete(watch) || set.size > 0) continue;
      this.byChannel.delete(channel);
      if (subscriber && !this.closed) await this.quietly(() => subscriber.unsubscribe(channel));
    }
  }

  private channel(key: string): string {
    return `__keyspace@${this.db}__:${key}`;
  }

  private *watches(): Iterable<Watch> {
    yield* this.allKeys;
    for (const set of this.byChannel.values()) yield* set;
  }

  /** The connection in subscriber mode (one per component), created on the first subscribe. */
  private async subscriberClient(): Promise<Redis> {
    if (this.subscriber) return this.subscriber;
    this.connectingSubscriber ??= connectRedis(this.options, {
      address: this.address,
      clock: this.clock,
      logger: this.logger,
      name: this.name,
      // Only once the subscriber was taken: a failed connect leaves no reconnect loop behind.
      reconnectWhile: () => this.subscriber !== undefined && !this.closed,
    });
    let client: Redis;
    try {
      client = await this.connectingSubscriber;
    } catch (err) {
      this.connectingSubscriber = undefined;
      throw err;
    }
    // Connected and PINGed already: a later 'ready' is a reconnect. ioredis subscribes again by itself
    // (autoResubscribe); the server may have forgotten notify-keyspace-events (restarted), and changes
    // made meanwhile were not notified.
    client.on('ready', () => {
      if (this.closed) return;
      this.logger.info({ component: this.name, address: this.address }, 'configuration subscriptions reconnected to redis; catching up');
      this.resume(0);
    });
    client.on('message', (channel: string, event: string) => this.onNotification(channel, event, this.byChannel.get(channel)));
    client.on('pmessage', (_pattern: string, channel: string, event: string) => this.onNotification(channel, event, this.allKeys));
    this.subscriber = client;
    return client;
  }

  private onNotification(channel: string, event: string, watches: ReadonlySet<Watch> | undefined): void {
    if (!watches || watches.size === 0) return;
    const prefix = this.channel('');
    if (!channel.startsWith(prefix)) return;
    const key = channel.slice(prefix.length);
    for (const watch of watches) {
      watch.sequence.push(async () => watch.delivered.changes(DELETIONS.has(event) ? deletion(key) : await this.readOne(key)));
    }
  }

  private async readOne(key: string): Promise<ConfigurationUpdate> {
    const items = await this.get([key]);
    const item = items[key];
    return item ? { items: { [key]: item }, deleted: [] } : deletion(key);
  }

  /** After a reconnect: notifications on again, and every watch of explicit keys brought up to date. */
  private resume(attempt: number): void {
    const run = async (): Promise<void> => {
      await this.enableNotifications();
      for (const watch of this.watches()) {
        if (watch.keys.length === 0) continue;
        const current = await this.get(watch.keys);
        watch.sequence.push(() => watch.delivered.catchUp(current, watch.keys));
      }
    };
    run().catch((err: unknown) => {
      if (this.closed) return;
      if (attempt + 1 >= RESUME_ATTEMPTS) {
        this.logger.error({ err, component: this.name }, `configuration subscriptions could not catch up after a reconnect: ${errorMessage(err)}`);
        return;
      }
      setTimeout(() => this.resume(attempt + 1), RESUME_SPACING_MS).unref();
    });
  }

  /** Adds the flags subscriptions need to notify-keyspace-events (a warning if the server refuses CONFIG). */
  private async enableNotifications(): Promise<void> {
    let current: string;
    try {
      const reply = (await this.client.config('GET', 'notify-keyspace-events')) as unknown as string[];
      current = reply[1] ?? '';
    } catch (err) {
      if (!isRefused(err)) throw err;
      this.warnConfig(err);
      return;
    }
    const have = current.replace('A', ALIAS_A);
    const missing = [...NEEDED_FLAGS].filter((flag) => !have.includes(flag)).join('');
    if (missing === '') return;
    try {
      await this.client.config('SET', 'notify-keyspace-events', current + missing);
    } catch (err) {
      if (!isRefused(err)) throw err;
      this.warnConfig(err);
    }
  }

  private warnConfig(err: unknown): void {
    if (this.warnedConfig) return;
    this.warnedConfig = true;
    this.logger.warn(
      { component: this.name, address: this.address },
      `redis refused CONFIG (${errorMessage(err)}): configuration subscriptions need keyspace notifications; set notify-keyspace-events to include ${NEEDED_FLAGS} on the server`,
    );
  }

  private async allKeyNames(): Promise<string[]> {
    const names: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.client.scan(cursor, 'COUNT', SCAN_COUNT);
      cursor = next;
      names.push(...batch);
    } while (cursor !== '0');
    return [...new Set(names)];
  }

  private async quietly(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.logger.debug({ err, component: this.name }, `redis unsubscribe failed (the connection drops it anyway): ${errorMessage(err)}`);
    }
  }
}

function deletion(key: string): ConfigurationUpdate {
  return { items: { [key]: DELETED_ITEM }, deleted: [key] };
}

/** CONFIG not allowed: an ACL refusal, a renamed/disabled command, or a managed server. */
function isRefused(err: unknown): boolean {
  return /NOPERM|unknown command|ERR.*CONFIG|not allowed/i.test(errorMessage(err));
}

export const redisConfigurationStoreFactory: ComponentFactory<RedisConfigurationStore> = {
  type: 'configuration.redis',
  kind: 'configuration',
  versions: ['v1'],
  create: () => new RedisConfigurationStore(),
};
