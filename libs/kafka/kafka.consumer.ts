import type { Consumer, ConsumerCrashEvent, ConsumerGroupJoinEvent, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { BackendError, errorMessage } from '../../src/errors/sidekick.error';
import { type Clock, type TimerHandle, withDeadline } from '../../src/spi/clock';
import type { KafkaClient } from './kafka.client';
import { COMMIT_EVERY, OffsetCommitter } from './kafka.committer';
import { type Lane, laneProgress, READ_AHEAD } from './kafka.lane';
import { Slots } from './kafka.slots';

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
  /** Records of a topic handled at once at most (one per partition in any case); unset = every assigned partition at once. */
  readonly limits?: ReadonlyMap<string, number>;
  /** What the consumer is, for logs (`pub/sub kafka, group app (orders, payments)`). */
  readonly label: string;
  /**
   * kafkajs gave up on the consumer after it started (CRASH with `restart: false`): it stays
   * disconnected and kafkajs never restarts it. The owner re-creates it (kafka.restarts.ts).
   */
  readonly onGiveUp?: (error: Error) => void;
}

/** How long a fetch waits for data at most: also the longest `close()` waits for an idle fetch. */
const FETCH_WAIT_MS = 500;
const START_TIMEOUT_MS = 60_000;
export { COMMIT_EVERY } from './kafka.committer';
const DONE: Promise<void> = Promise.resolve();

/**
 * A kafkajs consumer in a consumer group over every topic one component consumes in that group,
 * committing offsets only after their records' handlers resolved, in the background (one
 * OffsetCommit in flight for every partition, see kafka.committer.ts), with at most
 * {@link COMMIT_EVERY} handled records of a partition not committed yet.
 *
 * Partitions progress independently: a fetched batch is handed to its partition's lane and the
 * partition is paused until the lane is done, so kafkajs goes on fetching the other partitions
 * instead of waiting for the slowest handler of the fetch. Within a partition records are handled
 * one at a time, in order. A rejected record ends its lane; the partition is resumed after
 * `consumeRetryInterval` and fetched again from that record (per-partition order, as Dapr). Nothing
 * is ever skipped: the runtime above decides when to give up on a message (and then resolves).
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
  private readonly lanes = new Map<string, Lane>();
  private readonly slots = new Map<string, Slots>();
  /** `topic|partition` of this member's current assignment. */
  private assigned = new Set<string>();
  /** Bumped when kafkajs restarts the consumer after a crash: lanes of the earlier run stop (it fetches their records again). */
  private incarnation = 0;
  private joins: Promise<void> = Promise.resolve();
  private closing?: Promise<void>;
  private readonly committer: OffsetCommitter;

  private constructor(
    private readonly options: GroupConsumerOptions,
    private readonly consumer: Consumer,
    private readonly handler: RecordHandler,
  ) {
    for (const [topic, limit] of options.limits ?? []) this.slots.set(topic, new Slots(Math.max(1, limit)));
    this.committer = new OffsetCommitter(options.client.logger, options.label);
  }

  private get stopping(): boolean {
    return this.state === 'closing';
  }

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
      const assignment = event.payload.memberAssignment;
      this.assigned = new Set(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((p) => `${topic}|${p}`)));
      this.resetLanes((key) => this.assigned.has(key));
      this.joins = this.joins.then(() => this.pinNewest(assignment));
      void this.joins.then(joined);
    });
    this.consumer.on(this.consumer.events.CRASH, (event: ConsumerCrashEvent) => {
      const { error, restart } = event.payload;
      this.incarnation += 1; // a restarted consumer fetches from the committed offsets again
      this.resetLanes(() => false);
      // A retriable crash (e.g. the group coordinator still loading) restarts the consumer by itself.
      if (this.state === 'starting' && !restart) failStart(error);
      else if (!this.stopping && restart) {
        client.logger.warn({ err: error }, `kafka ${this.options.label}: consumer crashed (${errorMessage(error)}); restarting`);
      } else if (!this.stopping) {
        client.logger.error({ err: error }, `kafka ${this.options.label}: kafkajs gave up on the consumer: ${errorMessage(error)}`);
        this.options.onGiveUp?.(error);
      }
      // Closed while kafkajs handled the crash: it sets its restart timer right after this event, and
      // a restart after close() would run a consumer nobody owns. Stopping clears that timer.
      if (this.stopping && restart) setImmediate(() => void this.consumer.stop().catch(() => undefined));
    });
    try {
      await withDeadline(START_TIMEOUT_MS, async () => {
        await this.consumer.connect();
        await this.consumer.subscribe({ topics: [...topics], fromBeginning: client.settings.initialOffset === 'oldest' });
        await this.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          // eachBatch only queues the batch on its partition's lane: one at a time is enough.
          partitionsConsumedConcurrently: 1,
          eachBatch: (payload) => this.onBatch(payload),
        });
        await ready; // the group is joined and its start offsets are pinned
      });
    } catch (err) {
      this.state = 'closing';
      await this.consumer.disconnect().catch(() => undefined);
      throw new BackendError(client.component, `kafka (${client.brokers}): ${this.options.label} failed to start: ${errorMessage(err)}`, err);
    }
    this.state = 'running';
  }

  /** Stops fetching, waits for the in-flight handlers and commits their records, then leaves the group. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closing';
      this.clearTimers();
      // Lanes stop after their running handler; what was handled is committed while still in the group.
      await Promise.all([...this.lanes.values()].map((lane) => lane.done));
      await this.committer.flush();
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
    this.committer.stop();
    for (const abandon of this.abandonHooks) abandon();
    this.abandonHooks.clear();
    for (const slots of this.slots.values()) slots.drain();
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
   * kafkajs's eachBatch: queues the batch on its partition's lane and returns at once, so the next
   * fetch (of every partition) does not wait for the handlers. The partition's fetch position moves
   * past the batch (read-ahead); a partition with {@link READ_AHEAD} batches queued is paused until
   * its lane catches up. What is committed is decided by the lane, never by the fetch position.
   */
  private onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const key = `${batch.topic}|${batch.partition}`;
    if (this.stopping || this.abandoned) {
      payload.pause(); // not handled: the partition's next owner fetches it
      return DONE;
    }
    if (payload.isStale()) return DONE;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { queue: [], running: false, retrying: false, done: DONE };
      this.lanes.set(key, lane);
    }
    // Fetched from beyond the expected position: fetched before a seek back to a failed record.
    const fetched = BigInt((batch as typeof batch & { fetchedOffset?: string }).fetchedOffset ?? batch.firstOffset() ?? batch.lastOffset());
    const next = lane.next;
    if (next !== undefined && fetched > next) return DONE;
    // From an earlier position (a rebalance restarts at the committed offset): skip what is queued or handled.
    const messages = next === undefined ? batch.messages : batch.messages.filter((m) => BigInt(m.offset) >= next);
    try {
      payload.resolveOffset(batch.lastOffset()); // fetch on from after this batch
    } catch {
      return DONE; // no longer assigned (a rebalance under way)
    }
    lane.next = BigInt(batch.lastOffset()) + 1n;
    if (messages.length > 0) lane.queue.push({ payload, messages, incarnation: this.incarnation });
    if (lane.queue.length >= READ_AHEAD) lane.resume ??= payload.pause();
    if (!lane.running && lane.queue.length > 0) {
      lane.running = true;
      lane.done = this.runLane(key, lane);
    }
    // The lane is still busy with an earlier batch: hold the fetch loop until it finishes one, for at
    // most BUSY_WAIT_MS. Records then gather into fewer, larger fetches (returning at once made the
    // loop fetch tiny batches: ~0.8x raw kafkajs throughput), while a slow or retrying partition
    // holds up the others by at most BUSY_WAIT_MS.
    return lane.queue.length > 1 ? laneProgress(lane) : DONE;
  }

  /**
   * Handles the queued batches of one partition in order. Each handled record is marked for the
   * background committer (kafka.committer.ts) and the next one goes on at once: commits are never
   * made before their handlers, and never waited for, except when the partition has COMMIT_EVERY
   * handled records not committed yet (the crash-redelivery bound) and at shutdown. A failed record
   * drops the queue, moves the fetch position back to it and pauses the partition for
   * `consumeRetryInterval`. Batches of a partition that is no longer this member's (a rebalance gave
   * it to another member, which starts from the committed offset) are dropped.
   */
  private async runLane(key: string, lane: Lane): Promise<void> {
    const { logger } = this.options.client;
    const committer = this.committer;
    try {
      for (let item = lane.queue[0]; item !== undefined && !this.stopping; item = lane.queue[0]) {
        const { payload, messages, incarnation } = item;
        const { topic, partition } = payload.batch;
        const owned = (): boolean => !this.abandoned && this.incarnation === incarnation && this.assigned.has(key);
        let failed: string | undefined;
        for (const message of messages) {
          if (this.stopping || !owned()) break;
          if (committer.outstanding(key) >= COMMIT_EVERY) {
            await committer.room(key);
            if (this.stopping || !owned()) break; // woken by abort or a rebalance
          }
          const ok = await this.deliver({ topic, partition, message });
          if (this.abandoned) return;
          if (!ok) {
            failed = message.offset; // not handled: fetched again later; what came before it is committed
            break;
          }
          committer.mark(key, topic, partition, message.offset, payload, owned);
        }
        // Only the batch just handled: a crash or rebalance meanwhile cleared the queue, and what is
        // queued now is the new run's (shifting it dropped records whose fetch position had moved on).
        if (lane.queue[0] === item) lane.queue.shift();
        // Resume fetching as soon as there is room again, not when the lane ran dry: the fetch that
        // brings the next batch then overlaps the handling of the ones still queued (waiting for the
        // lane to empty cost up to a whole fetch wait, 500 ms, per pause).
        if (failed === undefined && !lane.retrying && lane.queue.length < READ_AHEAD) this.resumeLane(lane);
        if (failed !== undefined && owned() && !this.stopping) {
          lane.queue.length = 0;
          lane.next = BigInt(failed);
          this.consumer.seek({ topic, partition, offset: failed });
          lane.resume ??= payload.pause();
          lane.retrying = true;
          this.retryLater(() => {
            lane.retrying = false;
            this.resumeLane(lane);
          });
          return;
        }
      }
    } catch (err) {
      logger.warn({ err, key }, `kafka ${this.options.label}: handling ${key} stopped (${errorMessage(err)}); it is fetched again from its committed offset`);
      lane.next = undefined;
      lane.queue.length = 0;
    } finally {
      lane.running = false;
      lane.progressed?.();
      if (!lane.retrying) this.resumeLane(lane);
    }
  }

  private resumeLane(lane: Lane): void {
    const resume = lane.resume;
    lane.resume = undefined;
    resume?.();
  }

  /** Forgets the lanes of partitions this member no longer fetches (their next owner starts at the committed offset). */
  private resetLanes(keep: (key: string) => boolean): void {
    this.committer.forget(keep);
    for (const [key, lane] of this.lanes) {
      if (keep(key)) continue;
      lane.next = undefined;
      lane.queue.length = 0; // a running handler finishes; nothing after it is handled here
      lane.resume = undefined; // that pause belonged to the earlier assignment
    }
  }

  /** Runs the handler (within its topic's limit); true when it resolved (false when it rejected, or at once on abort). */
  private async deliver(record: KafkaRecord): Promise<boolean> {
    const slots = this.slots.get(record.topic);
    if (!slots) return this.handle(record);
    await slots.acquire();
    try {
      return this.abandoned || this.stopping ? false : await this.handle(record);
    } finally {
      slots.release();
    }
  }

  private handle(record: KafkaRecord): Promise<boolean> {
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
        .then(
          (ok) => {
            this.abandonHooks.delete(abandon);
            resolve(ok);
          },
          resolve.bind(undefined, false),
        );
    });
  }

  private retryLater(resume: () => void): void {
    const timer = this.options.clock.setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopping) resume();
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
    if (client.settings.initialOffset !== 'newest' || this.stopping) return;
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
