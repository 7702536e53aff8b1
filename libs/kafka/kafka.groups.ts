import { BackendError, errorMessage } from '../../src/errors/sidekick.error';
import type { Clock } from '../../src/spi/clock';
import type { KafkaClient } from './kafka.client';
import { KafkaGroupConsumer, type KafkaRecord, type RecordHandler } from './kafka.consumer';
import { ConsumerRestarts, type RestartStatus } from './kafka.restarts';

/** What one subscription (or input binding) consumes: its topics in a consumer group, and their handler. */
export interface TopicSubscription {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly handler: RecordHandler;
  /** Records of each of these topics handled at once at most; unset = one per assigned partition. */
  readonly concurrency?: number;
}

export interface SubscriptionHandle {
  /** Stops delivering the topics (their running handlers finish and are committed). Safe to call twice. */
  close(): Promise<void>;
}

interface Entry {
  readonly handler: RecordHandler;
  readonly concurrency?: number;
  /** Closed by its handle: dropped from the next consumer's topics. */
  removing: boolean;
}

/**
 * The group consumers of one component (subscriptions, input bindings): ONE kafkajs consumer per
 * consumer group, subscribed to every topic the component consumes in that group and dispatching
 * each record to its topic's handler, as daprd's Kafka component does. Separate consumers in one
 * group that subscribe to different topics lose partitions: the group assigns a topic's
 * partitions to members that never subscribed to it, and they ignore them.
 *
 * Subscribing or closing a subscription changes the topic set: the group's consumer is closed
 * (running handlers finish and are committed) and started again over the new set. Changes made
 * together (every subscription closing at shutdown) are applied at once.
 */
export class GroupConsumers {
  private readonly groups = new Map<string, SharedGroup>();
  private done = false;

  /** `kind` names the consumers in logs (`pub/sub kafka`). */
  constructor(private readonly kind: string) {}

  /** True once close() or abort() began. */
  get closed(): boolean {
    return this.done;
  }

  /**
   * Adds the topics to their group's consumer and resolves once it joined the group with them: every
   * record produced from then on reaches the group. Throws `closedError()` when the set closed meanwhile.
   */
  async subscribe(client: KafkaClient, clock: Clock, subscription: TopicSubscription, closedError: () => Error): Promise<SubscriptionHandle> {
    if (this.done) throw closedError();
    let group = this.groups.get(subscription.groupId);
    if (!group) {
      group = new SharedGroup(client, clock, subscription.groupId, `${this.kind}, group ${subscription.groupId}`, () => this.done);
      this.groups.set(subscription.groupId, group);
    }
    return group.add(subscription, closedError);
  }

  /** Closes every consumer gracefully (in-flight handlers finish and are committed). */
  close(): Promise<void> {
    return this.end(false);
  }

  /** Drops every consumer as a dying process would: in-flight handlers are not waited for, nothing more is committed. */
  abort(): Promise<void> {
    return this.end(true);
  }

  /** The groups whose consumer kafkajs gave up on and that are not re-created yet (what `ping()` reports). */
  down(): { readonly groupId: string; readonly status: RestartStatus }[] {
    return [...this.groups].flatMap(([groupId, group]) => (group.down ? [{ groupId, status: group.down }] : []));
  }

  /** Throws naming every group whose consumer is down (and its next restart attempt); returns when none is. */
  checkRunning(client: KafkaClient, clock: Clock): void {
    const down = this.down();
    if (down.length === 0) return;
    const what = down.map(
      ({ groupId, status }) => `group ${groupId}: ${status.reason}; restart attempt ${status.attempt} in ${Math.max(0, status.at - clock.now())} ms`,
    );
    throw new BackendError(client.component, `kafka (${client.brokers}): ${this.kind} consumer down, not receiving (${what.join('; ')})`);
  }

  private async end(abort: boolean): Promise<void> {
    this.done = true;
    await Promise.all([...this.groups.values()].map((group) => group.end(abort)));
  }
}

/** The subscriptions of one component in one consumer group, and the consumer over their topics. */
class SharedGroup {
  private readonly entries = new Map<string, Entry>();
  /** Every consumer not closed yet: the current one and one a reload is closing. */
  private readonly live = new Set<KafkaGroupConsumer>();
  private current?: KafkaGroupConsumer;
  /** The reload not started yet: changes made before it starts share it. */
  private queued?: Promise<void>;
  private last: Promise<void> = Promise.resolve();
  /** Re-creates the consumer when kafkajs gives up on it (it never restarts it itself then). */
  private readonly restarts: ConsumerRestarts;

  constructor(
    private readonly client: KafkaClient,
    private readonly clock: Clock,
    private readonly groupId: string,
    private readonly label: string,
    private readonly closed: () => boolean,
  ) {
    this.restarts = new ConsumerRestarts({ clock, logger: client.logger, label, restart: () => this.reload() });
  }

  /** Set while the consumer is down (kafkajs gave up on it) and being re-created. */
  get down(): RestartStatus | undefined {
    return this.restarts.status;
  }

  async add(subscription: TopicSubscription, closedError: () => Error): Promise<SubscriptionHandle> {
    const taken = subscription.topics.filter((topic) => this.entries.has(topic));
    if (taken.length > 0) {
      throw new BackendError(this.client.component, `kafka: ${taken.join(', ')} already consumed in group ${this.groupId} by this component`);
    }
    const added: Entry[] = [];
    for (const topic of subscription.topics) {
      const entry: Entry = {
        handler: subscription.handler,
        removing: false,
        ...(subscription.concurrency !== undefined ? { concurrency: subscription.concurrency } : {}),
      };
      this.entries.set(topic, entry);
      added.push(entry);
    }
    const forget = (): void => {
      for (const topic of subscription.topics) {
        const entry = this.entries.get(topic);
        if (entry && added.includes(entry)) this.entries.delete(topic);
      }
    };
    try {
      await this.reload();
    } catch (err) {
      forget();
      // The other subscriptions of the group go on without these topics.
      if (this.entries.size > 0 && !this.closed()) this.reload().catch((e: unknown) => this.lost(e));
      throw err;
    }
    if (this.closed()) throw closedError();
    let closing: Promise<void> | undefined;
    return {
      close: () => {
        closing ??= (async () => {
          for (const entry of added) entry.removing = true;
          await this.reload().catch((err: unknown) => this.lost(err));
          forget();
        })();
        return closing;
      },
    };
  }

  /** Closes (or aborts) every consumer; a reload under way starts nothing more. */
  async end(abort: boolean): Promise<void> {
    this.restarts.stop();
    await Promise.all([...this.live].map((consumer) => (abort ? consumer.abort() : consumer.close())));
    if (!abort) await this.last.catch(() => undefined);
  }

  /** Restarts the group's consumer over the current topics, after the changes made until it starts. */
  private reload(): Promise<void> {
    if (!this.queued) {
      const next = this.last
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.restart();
        });
      this.queued = next;
      this.last = next;
    }
    return this.queued;
  }

  private async restart(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    if (old) await this.stop(old); // its running handlers finish and are committed
    for (const [topic, entry] of this.entries) if (entry.removing) this.entries.delete(topic);
    const topics = [...this.entries.keys()];
    if (topics.length === 0 || this.closed()) return;
    const limits = new Map<string, number>();
    for (const [topic, entry] of this.entries) if (entry.concurrency !== undefined) limits.set(topic, entry.concurrency);
    const started: { consumer?: KafkaGroupConsumer } = {};
    const onGiveUp = (error: Error): void => {
      // Only the current consumer: one a reload is replacing anyway needs no restart.
      if (started.consumer !== undefined && this.current === started.consumer && !this.closed()) this.restarts.gaveUp(error);
    };
    const consumer = await KafkaGroupConsumer.start(
      { client: this.client, clock: this.clock, groupId: this.groupId, topics, limits, label: `${this.label} (${topics.join(', ')})`, onGiveUp },
      (record) => this.dispatch(record),
    );
    started.consumer = consumer;
    this.live.add(consumer);
    if (this.closed()) {
      await this.stop(consumer); // the component closed while it started
      return;
    }
    this.current = consumer;
    this.restarts.recovered();
  }

  private async stop(consumer: KafkaGroupConsumer): Promise<void> {
    await consumer.close();
    this.live.delete(consumer);
  }

  private dispatch(record: KafkaRecord): Promise<void> {
    const entry = this.entries.get(record.topic);
    if (!entry) return Promise.reject(new Error(`kafka ${this.label}: no subscription to ${record.topic}`));
    return entry.handler(record);
  }

  /**
   * Re-creating the consumer for a subscription change failed: the old one is closed already, so the
   * group's other subscriptions would receive nothing more. Retried with the same backoff as a give-up.
   */
  private lost(err: unknown): void {
    if (this.closed() || this.entries.size === 0) return;
    this.client.logger.warn({ err }, `kafka ${this.label}: re-creating the consumer failed: ${errorMessage(err)}`);
    this.restarts.gaveUp(err, 're-creating the consumer after a subscription change failed');
  }
}
