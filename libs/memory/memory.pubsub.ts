import { SidekickError } from '../../src/errors/sidekick.error';
import type { Clock } from '../../src/spi/clock';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { MessageHandler, PublishRequest, PubSub, PubSubFeature, ReceivedMessage, SubscribeRequest, SubscriptionHandle } from '../../src/spi/pubsub';
import { WorkQueue } from '../../src/spi/work-queue';

/** One subscriber of a group: runs at most `concurrency` of its handlers at once. */
class Consumer {
  closed = false;
  readonly work: WorkQueue<ReceivedMessage>;
  /** The slot's release, shared by every message (nothing allocated per delivery for it). */
  private readonly finished = (): void => this.work.done();

  constructor(
    private readonly handler: MessageHandler,
    concurrency: number,
    private readonly group: Group,
  ) {
    this.work = new WorkQueue<ReceivedMessage>(
      concurrency,
      (message) => this.deliver(message),
      () => group.pump(),
    );
  }

  private deliver(message: ReceivedMessage): void {
    this.handler(message).then(this.finished, () => {
      // Not handled: deliver again after the redelivery interval (at least once, never dropped).
      this.group.redeliver(message);
      this.work.done();
    });
  }
}

/** One consumer group on one topic: a queue shared by its consumers (competing consumers). */
class Group {
  readonly queue: ReceivedMessage[] = [];
  readonly consumers: Consumer[] = [];
  private next = 0;

  constructor(
    private readonly clock: Clock,
    private readonly redeliverMs: number,
  ) {}

  push(message: ReceivedMessage): void {
    this.queue.push(message);
    this.pump();
  }

  pump(): void {
    while (this.queue.length > 0) {
      const consumer = this.pick();
      if (!consumer) return;
      consumer.work.push(this.queue.shift() as ReceivedMessage);
    }
  }

  redeliver(message: ReceivedMessage): void {
    this.clock.setTimeout(() => this.push(message), this.redeliverMs);
  }

  private pick(): Consumer | undefined {
    const open = this.consumers.filter((c) => !c.closed && c.work.free > 0);
    if (open.length === 0) return undefined;
    return open[this.next++ % open.length];
  }
}

/**
 * `pubsub.in-memory`: topics in this process, the embedded default `pubsub`. Consumer groups give
 * competing consumers within the process; a message published before any group subscribed to the
 * topic is not kept (as Dapr's in-memory pub/sub). Lost on exit: for tests and local development.
 */
export class MemoryPubSub implements PubSub {
  readonly features: readonly PubSubFeature[] = ['BULK_PUBLISH'];
  private readonly topics = new Map<string, Map<string, Group>>();
  private clock!: Clock;
  private redeliverMs = 1000;
  private closed = false;

  async init(init: ComponentInit): Promise<void> {
    this.clock = init.clock;
    // The name carries the unit: a whole number of milliseconds.
    this.redeliverMs = init.meta.int('redeliverIntervalMs', this.redeliverMs, { min: 0 });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.topics.clear();
  }

  async publish(request: PublishRequest): Promise<void> {
    if (this.closed) throw new SidekickError('ERR_PUBSUB_CLOSED', 'in-memory pub/sub is closed', { retryable: true });
    const groups = this.topics.get(request.topic);
    if (!groups) return;
    for (const group of groups.values()) {
      const data = typeof request.data === 'string' ? Buffer.from(request.data, 'utf8') : request.data;
      group.push({ topic: request.topic, data, metadata: { ...(request.metadata ?? {}) } });
    }
  }

  async bulkPublish(requests: readonly PublishRequest[]): Promise<{ failed: { index: number; error: Error }[] }> {
    for (const request of requests) await this.publish(request);
    return { failed: [] };
  }

  async subscribe(request: SubscribeRequest, handler: MessageHandler): Promise<SubscriptionHandle> {
    let groups = this.topics.get(request.topic);
    if (!groups) {
      groups = new Map();
      this.topics.set(request.topic, groups);
    }
    let group = groups.get(request.consumerGroup);
    if (!group) {
      group = new Group(this.clock, this.redeliverMs);
      groups.set(request.consumerGroup, group);
    }
    const consumer = new Consumer(handler, request.concurrency ?? 16, group);
    group.consumers.push(consumer);
    group.pump();
    const owner = group;
    return {
      close: async () => {
        consumer.closed = true;
        // indexOf is -1 on a second close(): splice(-1, 1) would remove another consumer.
        const index = owner.consumers.indexOf(consumer);
        if (index >= 0) owner.consumers.splice(index, 1);
        await consumer.work.drain();
        owner.pump();
      },
    };
  }
}

export const memoryPubSubFactory: ComponentFactory<MemoryPubSub> = {
  type: 'pubsub.in-memory',
  kind: 'pubsub',
  versions: ['v1'],
  create: () => new MemoryPubSub(),
};
