import type { Redis, RedisOptions } from 'ioredis';
import { BackendError, SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import type { Clock } from '../../src/spi/clock';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';
import type { MessageHandler, PublishRequest, PubSub, PubSubFeature, SubscribeRequest, SubscriptionHandle } from '../../src/spi/pubsub';
import { REDIS_DURATION, connectRedis, redisOptionsFromMetadata } from './redis.connection';
import { StreamSubscription, type SubscriptionContext, createGroup } from './redis.stream-subscription';

/*
 * `pubsub.redis` on Redis Streams (Redis >= 6.2), with daprd's entry layout: one stream per topic,
 * the payload in field `data` and the request metadata as JSON in field `metadata` (as daprd writes
 * and reads them, so both can share a topic). One consumer group per app (`consumerID` or the
 * subscriber's group); each subscription is its own consumer, named `<host>-<pid>-<random>`.
 *
 * Delivery: a dedicated connection per subscription loops on XREADGROUP ... BLOCK, fetching no more
 * than free handler slots. An entry is XACKed only after its handler resolves. A rejected entry stays
 * pending, untouched: every `redeliverInterval` each subscription runs XAUTOCLAIM for entries idle
 * longer than `processingTimeout` and handles what it claims, so a rejected message, or one held by a
 * consumer that died, comes back after processingTimeout to whichever instance claims it first.
 * While a handler runs, its entry is touched (XCLAIM JUSTID to itself) every processingTimeout / 2,
 * so a slow but live handler is never mistaken for a dead one and handled twice at once.
 */

export { REDIS_STREAM_ID } from './redis.stream-subscription';

interface Settings {
  readonly consumerId?: string;
  readonly processingTimeoutMs: number;
  readonly redeliverIntervalMs: number;
  readonly concurrency: number;
  readonly maxLenApprox: number;
  readonly streamTtlMs: number;
}

/** `pubsub.redis`: Redis Streams with consumer groups, via ioredis. */
export class RedisPubSub implements PubSub {
  readonly features: readonly PubSubFeature[] = ['BULK_PUBLISH'];
  private client!: Redis;
  private options!: RedisOptions;
  private settings!: Settings;
  private clock!: Clock;
  private logger!: SidekickLogger;
  private name = 'redis';
  private address = '';
  private open = false;
  private closed = false;
  /** Reconnects only between a successful init and close/abort: a failed init leaves no reconnect loop. */
  private live = false;
  private readonly subscriptions = new Set<StreamSubscription>();

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.clock = init.clock;
    this.logger = init.logger;
    this.parseMetadata(init);
    this.client = await this.connect(this.options, () => this.live);
    this.open = this.live = true;
    if (this.settings.processingTimeoutMs === 0 || this.settings.redeliverIntervalMs === 0) {
      this.logger.warn({ component: this.name }, 'redelivery is disabled: rejected messages stay pending until it is enabled again');
    }
  }

  /** Closes every subscription gracefully (waits for in-flight handlers and their acks), then the connection. */
  async close(): Promise<void> {
    if (this.closed || !this.client) return;
    this.closed = true;
    this.open = false;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    this.live = false;
    await this.client.quit().catch(() => this.client.disconnect());
  }

  /**
   * Drops every connection and timer at once, as if the process died: nothing in flight is acked,
   * so those messages stay pending and another consumer claims them after processingTimeout.
   */
  abort(): void {
    this.closed = true;
    this.open = this.live = false;
    for (const s of this.subscriptions) s.abort();
    this.client?.disconnect();
  }

  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (err) {
      throw this.fail(err);
    }
  }

  async publish(request: PublishRequest): Promise<void> {
    this.ensureOpen();
    try {
      await this.client.call('xadd', this.xaddArgs(request));
    } catch (err) {
      throw this.fail(err);
    }
  }

  async bulkPublish(requests: readonly PublishRequest[]): Promise<{ failed: { index: number; error: Error }[] }> {
    this.ensureOpen();
    if (requests.length === 0) return { failed: [] };
    const pipeline = this.client.pipeline();
    for (const request of requests) pipeline.call('xadd', this.xaddArgs(request));
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await pipeline.exec();
    } catch (err) {
      const error = this.fail(err);
      return { failed: requests.map((_, index) => ({ index, error })) };
    }
    const failed: { index: number; error: Error }[] = [];
    requests.forEach((_, index) => {
      const err = replies ? replies[index]?.[0] : new Error('pipeline was discarded');
      if (err !== null) failed.push({ index, error: this.fail(err ?? 'no reply') });
    });
    return { failed };
  }

  async subscribe(request: SubscribeRequest, handler: MessageHandler): Promise<SubscriptionHandle> {
    this.ensureOpen();
    const group = this.settings.consumerId ?? request.consumerGroup;
    const concurrency = request.concurrency ?? this.settings.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new SidekickError('ERR_PUBSUB_SUBSCRIBE', `concurrency must be a positive integer, got ${concurrency}`);
    try {
      await createGroup(this.client, request.topic, group);
    } catch (err) {
      throw this.fail(err);
    }
    let active = false;
    const blocking = await this.connect(
      {
        ...this.options,
        connectionName: `${this.options.connectionName ?? 'sidekick'}-sub`,
        // Not resent after a reconnect: the subscription gives a lost read up itself and reads again
        // (a per-command timeout would arm a timer per read; see StreamSubscription.watch).
        autoResendUnfulfilledCommands: false,
      },
      () => active,
      (err) => this.logger.debug({ err, topic: request.topic }, `redis subscriber connection error: ${errorMessage(err)}`),
    );
    active = true;
    const { processingTimeoutMs, redeliverIntervalMs } = this.settings;
    const context: SubscriptionContext = { client: this.client, clock: this.clock, logger: this.logger, processingTimeoutMs, redeliverIntervalMs };
    const subscription = new StreamSubscription(context, blocking, request.topic, group, concurrency, handler, () => {
      active = false;
      this.subscriptions.delete(subscription);
    });
    this.subscriptions.add(subscription);
    subscription.start();
    return { close: () => subscription.close() };
  }

  private ensureOpen(): void {
    if (!this.open)
      throw new SidekickError('ERR_PUBSUB_CLOSED', `redis pub/sub "${this.name}" is ${this.closed ? 'closed' : 'not initialised'}`, {
        retryable: true,
        component: this.name,
      });
  }

  private fail(err: unknown): SidekickError {
    if (err instanceof SidekickError) return err;
    return new BackendError(this.name, `redis at ${this.address}: ${errorMessage(err)}`, err);
  }

  private xaddArgs(request: PublishRequest): (string | Buffer | number)[] {
    const args: (string | Buffer | number)[] = [request.topic];
    if (this.settings.maxLenApprox > 0) args.push('MAXLEN', '~', this.settings.maxLenApprox);
    else if (this.settings.streamTtlMs > 0) args.push('MINID', '~', Math.max(0, Math.floor(this.clock.now() - this.settings.streamTtlMs)));
    // Both fields always, as daprd writes them (`{}` when there is no metadata); the read side also takes
    // entries without `metadata` from other producers.
    args.push('*', 'data', request.data, 'metadata', JSON.stringify(request.metadata ?? {}));
    return args;
  }

  /** See connectRedis: fails naming the address, reconnects only while `reconnectWhile` holds, logs errors with `onError` (default: a warning). */
  private connect(options: RedisOptions, reconnectWhile: () => boolean, onError?: (err: unknown) => void): Promise<Redis> {
    return connectRedis(options, { address: this.address, clock: this.clock, logger: this.logger, name: this.name, reconnectWhile, onError });
  }

  /** The shared connection fields (see redis.connection.ts), then the pub/sub settings. */
  private parseMetadata(init: ComponentInit): void {
    const meta = init.meta;
    const { options, address } = redisOptionsFromMetadata(init);
    this.options = options;
    this.address = address;
    const queueDepth = meta.int('queueDepth', 10, { min: 1 });
    this.settings = {
      consumerId: meta.text('consumerID'),
      processingTimeoutMs: meta.duration('processingTimeout', 60_000, REDIS_DURATION),
      redeliverIntervalMs: meta.duration('redeliverInterval', 60_000, REDIS_DURATION),
      concurrency: meta.int('concurrency', queueDepth, { min: 1 }),
      maxLenApprox: meta.int('maxLenApprox', 0, { min: 0 }),
      streamTtlMs: meta.duration('streamTTL', 0, REDIS_DURATION),
    };
  }
}

export const redisPubSubFactory: ComponentFactory<RedisPubSub> = {
  type: 'pubsub.redis',
  kind: 'pubsub',
  versions: ['v1'],
  create: () => new RedisPubSub(),
};
