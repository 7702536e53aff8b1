import type { Message } from 'kafkajs';
import { SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import type { Clock } from '../../src/spi/clock';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { MessageHandler, PublishRequest, PubSub, PubSubFeature, SubscribeRequest, SubscriptionHandle } from '../../src/spi/pubsub';
import { KafkaClient, recordMetadata } from './kafka.client';
import { parseKafkaSettings } from './kafka.config';
import { GroupConsumers } from './kafka.groups';

/**
 * `pubsub.kafka`: Dapr's Kafka pub/sub on kafkajs. Publish: key = `partitionKey` (or `__key` /
 * `key`), value = the data, every other metadata entry a header, acks from all in-sync replicas.
 * Subscribe: one kafkajs consumer per consumer group (`consumerGroup` metadata, else the
 * subscription's, i.e. the app id) over every topic the component's subscriptions consume in it,
 * dispatching by topic (as daprd); partitions are handled independently, one record at a time each.
 * An offset is committed only after the handler resolved, and a rejected message is delivered
 * again after `consumeRetryInterval`, before the rest of its partition. Missing topics are
 * created (broker defaults) on first use.
 */
export class KafkaPubSub implements PubSub {
  readonly features: readonly PubSubFeature[] = ['BULK_PUBLISH'];
  private client?: KafkaClient;
  private clock!: Clock;
  private readonly consumers = new GroupConsumers('pub/sub');

  async init(init: ComponentInit): Promise<void> {
    const settings = parseKafkaSettings(init);
    this.clock = init.clock;
    this.client = await KafkaClient.connect(init.name, settings, init.logger);
  }

  async close(): Promise<void> {
    if (this.consumers.closed) return;
    await this.consumers.close();
    await this.client?.close();
  }

  /**
   * Drops every subscription as a dying process would (in-flight handlers are not waited for,
   * nothing more is committed), then releases the connections: crash-recovery tests, and shutdown
   * past its drain deadline.
   */
  async abort(): Promise<void> {
    await this.consumers.abort();
    await this.client?.close();
  }

  /** The brokers answer, and no consumer is down (kafkajs gave up on it and it is being re-created: kafka.restarts.ts). */
  async ping(): Promise<void> {
    const client = this.open();
    await client.admin.describeCluster();
    this.consumers.checkRunning(client, this.clock);
  }

  async publish(request: PublishRequest): Promise<void> {
    const client = this.open();
    await client.send(request.topic, [client.toMessage(request.data, request.metadata)]);
  }

  async bulkPublish(requests: readonly PublishRequest[]): Promise<{ readonly failed: readonly { index: number; error: Error }[] }> {
    const client = this.open();
    const failed: { index: number; error: Error }[] = [];
    const byTopic = new Map<string, { indexes: number[]; messages: Message[] }>();
    requests.forEach((request, index) => {
      try {
        const message = client.toMessage(request.data, request.metadata);
        const group = byTopic.get(request.topic) ?? { indexes: [], messages: [] };
        group.indexes.push(index);
        group.messages.push(message);
        byTopic.set(request.topic, group);
      } catch (err) {
        failed.push({ index, error: err instanceof Error ? err : new Error(errorMessage(err)) });
      }
    });
    await Promise.all(
      [...byTopic].map(async ([topic, group]) => {
        try {
          await client.send(topic, group.messages);
        } catch (err) {
          const error = err instanceof Error ? err : new Error(errorMessage(err));
          for (const index of group.indexes) failed.push({ index, error });
        }
      }),
    );
    return { failed: failed.sort((a, b) => a.index - b.index) };
  }

  async subscribe(request: SubscribeRequest, handler: MessageHandler): Promise<SubscriptionHandle> {
    const client = this.open();
    await client.ensureTopic(request.topic);
    // The component may close while the consumer starts: then it is closed again and this fails.
    return this.consumers.subscribe(
      client,
      this.clock,
      {
        groupId: client.settings.consumerGroup ?? request.consumerGroup,
        topics: [request.topic],
        ...(request.concurrency !== undefined ? { concurrency: request.concurrency } : {}),
        handler: ({ topic, partition, message }) =>
          handler({ topic, data: message.value ?? Buffer.alloc(0), metadata: recordMetadata(topic, partition, message) }),
      },
      () => new SidekickError('ERR_PUBSUB_CLOSED', 'kafka pub/sub is closed', { retryable: true }),
    );
  }

  private open(): KafkaClient {
    if (!this.client || this.consumers.closed) {
      throw new SidekickError('ERR_PUBSUB_CLOSED', this.consumers.closed ? 'kafka pub/sub is closed' : 'kafka pub/sub is not initialised', { retryable: true });
    }
    return this.client;
  }
}

export const kafkaPubSubFactory: ComponentFactory<KafkaPubSub> = {
  type: 'pubsub.kafka',
  kind: 'pubsub',
  versions: ['v1'],
  create: () => new KafkaPubSub(),
};
