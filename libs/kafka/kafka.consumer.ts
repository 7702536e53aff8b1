import type { Consumer, ConsumerCrashEvent, ConsumerGroupJoinEvent, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { BackendError, errorMessage } from '../../src/errors/sidekick.error';
import { type Clock, type TimerHandle, withTimeout } from '../../src/spi/clock';
import type { KafkaClient } from './kafka.client';

/** One record handed to a consumer's handler. Resolve = commit; reject = deliver it again later. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
}

export type RecordHandler = (record: KafkaRecord) => Promise<void>;

export interface GroupConsumerOptions {
  readonly client: KafkaClient;
  readonly clock: Clock;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Partitions handled at once (kafkajs `partitionsConsumedConcurrently`). */
  readonly concurrency: number;
  /** What the consumer is, for logs (`subscription to orders`). */
  readonly label: string;
}

/** How long a fetch waits for data at most: also the longest `close()` waits for an idle fetch. */
const FETCH_WAIT_MS = 500;
const START_TIMEOUT_MS = 60_000;
/** Handled records of one partition committed together at most (the crash-redelivery bound per partition). */
export const COMMIT_EVERY = 100;

/**
 * A kafkajs consumer in a consumer group, committing offsets only after their records' handlers
 * resolved (per fetched batch, at most {@link COMMIT_EVERY} records at a time). A rejected record pauses its partition for `consumeRetryInterval` and is then fetched
 * and delivered again, before anything after it on that partition (per-partition order, as Dapr);
 * other partitions go on meanwhile. Nothing is ever skipped: the runtime above decides when to
 * give up on a message (and then resolves).
 */
export class KafkaGroupConsumer {
  private state: 'starting' | 'running' | 'closing' = 'starting';
  private abandoned = false;
  /**
   * Ends the wait for each running handler (abort). One hook per delivery, removed when it settles:
   * racing every delivery against one long-lived promise would pile a reaction per record on it.
   */
  private readonly abandonHooks = new Set<() => void>();
  private readonly timers = new Set<TimerHandle>();
  private joins: Promise<void> = Promise.resolve();
  private closing?: Promise<void>;

  private constructor(
    private readonly options: GroupConsumerOptions,
    private readonly consumer: Consumer,
    private readonly handler: RecordHandler,
  ) {}

  /** Joins the group and resolves once it is ready: every record produced from then on reaches the group. */
  static async start(options: GroupConsumerOptions, handler: RecordHandler): Promise<KafkaGroupConsumer> {
    const { settings } = options.client;
    const consumer = options.client.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      maxWaitTimeInMs: FETCH_WAIT_MS,
      allowAutoTopicCreation: false,
    });
    const self = new KafkaGroupConsumer(options, consumer, handler);
    await self.run();
    return self;
  }

  private async run(): Promise<void> {
    const { client, topics } = this.options;
    let joined: () => void = () => undefined;
    let failStart: (err: Error) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      joined = resolve;
      failStart = reject;
    });
    ready.catch(() => undefined); // awaited below; a late rejection must not go unhandled
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event: ConsumerGroupJoinEvent) => {
      this.joins = this.joins.then(() => this.pinNewest(event.payload.memberAssignment));
      void this.joins.then(joined);
    });
    this.consumer.on(this.consumer.events.CRASH, (event: ConsumerCrashEvent) => {
      const { error, restart } = event.payload;
      // A retriable crash (e.g. the group coordinator still loading) restarts the consumer by itself.
      if (this.state === 'starting' && !restart) failStart(error);
      else if (this.state !== 'closing' && restart) {
        client.logger.warn({ err: error }, `kafka ${this.options.label}: consumer crashed (${errorMessage(error)}); restarting`);
      } else if (this.state !== 'closing') {
        client.logger.error({ err: error }, `kafka ${this.options.label}: consumer stopped for good: ${errorMessage(error)}`);
      }
    });
    try {
      await withTimeout(this.options.clock, START_TIMEOUT_MS, async () => {
        await this.consumer.connect();
        await this.consumer.subscribe({ topics: [...topics], fromBeginning: client.settings.initialOffset === 'oldest' });
        await this.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: Math.max(1, this.options.concurrency),
          eachBatch: (payload) => this.onBatch(payload),
        });
        await ready; // the group is joined and its start offsets are pinned
      });
    } catch (err) {
      this.state = 'closing';
      await this.consumer.disconnect().catch(() => undefined);
      throw new BackendError(client.component, `kafka (${client.brokers}): ${this.options.label} in group ${this.options.groupId} failed to start: ${errorMessage(err)}`, err);
    }
    this.state = 'running';
  }

  /** Stops fetching, waits for the in-flight handlers and commits their records, then leaves the group. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closing';
      this.clearTimers();
      await this.disconnect();
    })();
    return this.closing;
  }

  /**
   * Drops the consumer as a dying process would: in-flight handlers are no longer waited for and
   * nothing more is committed. (kafkajs still says goodbye to the group, so the records it held go
   * to another member at once instead of after `sessionTimeout`.)
   */
  abort(): Promise<void> {
    this.abandoned = true;
    for (const abandon of this.abandonHooks) abandon();
    this.abandonHooks.clear();
    return this.close();
  }

  private async disconnect(): Promise<void> {
    try {
      await this.consumer.disconnect();
    } catch (err) {
      this.options.client.logger.warn({ err }, `kafka ${this.options.label}: disconnecting the consumer failed: ${errorMessage(err)}`);
    }
    await this.joins;
  }

  /**
   * Handles a fetched batch of one partition in order. Offsets are committed after the handlers,
   * never before: at the end of the batch, before a failed record pauses the partition, and every
   * {@link COMMIT_EVERY} records within a long batch (so a crash redelivers at most that many per
   * partition). One OffsetCommit per record would cap a consumer at the broker's commit rate.
   */
  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { topic, partition } = payload.batch;
    let handled: string | undefined; // the last handled offset not committed yet
    let count = 0;
    const commit = async (): Promise<void> => {
      if (handled === undefined || this.abandoned || payload.isStale()) return;
      const next = (BigInt(handled) + 1n).toString();
      handled = undefined;
      count = 0;
      // Through the batch payload: consumer.commitOffsets() is a no-op once close() began.
      await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: next }] }] });
    };
    const stopBeating = this.keepBeating(payload);
    try {
      for (const message of payload.batch.messages) {
        if (this.abandoned || !payload.isRunning() || payload.isStale()) break;
        const ok = await this.deliver({ topic, partition, message });
        if (this.abandoned) return;
        if (!ok) {
          // Not handled: commit what came before it, leave its offset where it is and fetch the partition again after the interval.
          await commit();
          if (this.state !== 'closing') this.retryLater(payload.pause());
          return;
        }
        payload.resolveOffset(message.offset);
        handled = message.offset;
        if (++count >= COMMIT_EVERY) await commit();
        if (this.state !== 'closing') await payload.heartbeat();
      }
      await commit();
    } finally {
      stopBeating();
    }
  }

  /** Runs the handler; true when it resolved (false when it rejected, or at once on abort). */
  private deliver(record: KafkaRecord): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const abandon = (): void => resolve(false);
      this.abandonHooks.add(abandon);
      this.handler(record)
        .then(
          () => true,
          (err: unknown) => {
            this.options.client.logger.debug(
              { err, topic: record.topic, partition: record.partition, offset: record.message.offset },
              `kafka ${this.options.label}: handler rejected; retrying`,
            );
            return false;
          },
        )
        .then((ok) => {
          this.abandonHooks.delete(abandon);
          resolve(ok);
        }, resolve.bind(undefined, false));
    });
  }

  /** Heartbeats every heartbeatInterval while a batch is handled, so a slow handler keeps its partitions; returns the stop. */
  private keepBeating(payload: EachBatchPayload): () => void {
    const { clock, client } = this.options;
    let timer: TimerHandle | undefined;
    const beat = (): void => {
      timer = clock.setTimeout(() => {
        payload.heartbeat().catch(() => undefined); // a rebalance shows again at the commit
        beat();
      }, client.settings.heartbeatIntervalMs);
    };
    beat();
    return () => {
      if (timer) clock.clearTimeout(timer);
    };
  }

  private retryLater(resume: () => void): void {
    const timer = this.options.clock.setTimeout(() => {
      this.timers.delete(timer);
      if (this.state !== 'closing') resume();
    }, this.options.client.settings.retryIntervalMs);
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) this.options.clock.clearTimeout(timer);
    this.timers.clear();
  }

  /**
   * `initialOffset: newest` for partitions the group never committed: commit (and seek to) their
   * current end, so a later rebalance cannot move such a partition to a member that would resolve
   * "latest" again and skip what was produced in between.
   */
  private async pinNewest(assignment: Record<string, number[]>): Promise<void> {
    const { client, groupId } = this.options;
    if (client.settings.initialOffset !== 'newest' || this.state === 'closing') return;
    try {
      for (const [topic, partitions] of Object.entries(assignment)) {
        if (partitions.length === 0) continue;
        const [committed] = await client.admin.fetchOffsets({ groupId, topics: [topic] });
        const missing = partitions.filter((p) => Number(committed?.partitions.find((c) => c.partition === p)?.offset ?? -1) < 0);
        if (missing.length === 0) continue;
        const ends = await client.admin.fetchTopicOffsets(topic);
        const pins = missing.map((partition) => ({ topic, partition, offset: ends.find((e) => e.partition === partition)?.high ?? '0' }));
        for (const pin of pins) this.consumer.seek(pin);
        await this.consumer.commitOffsets(pins);
      }
    } catch (err) {
      client.logger.warn({ err }, `kafka ${this.options.label}: pinning the start offsets of group ${groupId} failed: ${errorMessage(err)}`);
    }
  }
}

/**
 * The group consumers one component started (subscriptions, input bindings): closed or aborted
 * together with it. A consumer whose start finishes after the component closed is closed again at once.
 */
export class GroupConsumers {
  private readonly consumers = new Set<KafkaGroupConsumer>();
  private done = false;

  /** True once close() or abort() began. */
  get closed(): boolean {
    return this.done;
  }

  /** Starts a consumer; the handle closes it and forgets it. Throws `closedError()` when the set closed meanwhile. */
  async start(options: GroupConsumerOptions, handler: RecordHandler, closedError: () => Error): Promise<{ close(): Promise<void> }> {
    const consumer = await KafkaGroupConsumer.start(options, handler);
    if (this.done) {
      await consumer.close();
      throw closedError();
    }
    this.consumers.add(consumer);
    return {
      close: async () => {
        await consumer.close();
        this.consumers.delete(consumer);
      },
    };
  }

  /** Closes every consumer gracefully (in-flight handlers finish and are committed). */
  close(): Promise<void> {
    return this.end((consumer) => consumer.close());
  }

  /** Drops every consumer as a dying process would: in-flight handlers are not waited for, nothing more is committed. */
  abort(): Promise<void> {
    return this.end((consumer) => consumer.abort());
  }

  private async end(stop: (consumer: KafkaGroupConsumer) => Promise<void>): Promise<void> {
    this.done = true;
    await Promise.all([...this.consumers].map(stop));
    this.consumers.clear();
  }
}
