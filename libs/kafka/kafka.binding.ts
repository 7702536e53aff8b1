import { SidekickError } from '../../src/errors/sidekick.error';
import type { BindingHandler, BindingRequest, BindingResponse, InputBinding, InputBindingHandle, OutputBinding } from '../../src/spi/binding';
import type { Clock } from '../../src/spi/clock';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import { KafkaClient } from './kafka.client';
import { KafkaMetadata, parseKafkaSettings } from './kafka.config';
import { GroupConsumers } from './kafka.groups';

/**
 * `bindings.kafka`, input and output (Dapr's metadata: `brokers`, `topics`, `publishTopic`,
 * `consumerGroup`, `clientId`, `authType`, `initialOffset`, `direction`, and the pub/sub's auth and
 * TLS fields). Output `create` produces `data` to `publishTopic` (key from `key`/`partitionKey`, other
 * metadata as headers). Input `read()` consumes `topics` in group `consumerGroup` (default: the app
 * id) with one kafkajs consumer over all of them (partitions handled independently, one record at a
 * time each): each record's offset is committed after the handler resolved; a rejected record is
 * delivered again after `consumeRetryInterval`, before the rest of its partition.
 */
export class KafkaBinding implements InputBinding, OutputBinding {
  readonly operations: readonly string[] = ['create'];
  private client?: KafkaClient;
  private clock!: Clock;
  private name = 'kafka';
  private topics: readonly string[] = [];
  private publishTopic?: string;
  private consumerGroup = '';
  private input = true;
  private output = true;
  private metadata!: KafkaMetadata;
  private readonly consumers = new GroupConsumers('input binding');

  /** Input with `topics`, output with `publishTopic` (or as `direction` says). */
  directions(): ('input' | 'output')[] {
    return [...(this.input ? (['input'] as const) : []), ...(this.output ? (['output'] as const) : [])];
  }

  async init(init: ComponentInit): Promise<void> {
    const settings = parseKafkaSettings(init);
    const md = new KafkaMetadata(init);
    this.metadata = md;
    this.name = init.name;
    this.clock = init.clock;
    this.topics = md.list('topics');
    this.publishTopic = md.get('publishTopic');
    this.consumerGroup = settings.consumerGroup ?? init.appId;
    // Dapr's `direction` ("input", "output", "input, output"); without it, the binding is input
    // when it has topics and output when it has a publishTopic.
    const direction = md.list('direction').map((d) => d.toLowerCase());
    for (const d of direction) if (d !== 'input' && d !== 'output') throw md.error('direction', `"${d}" is not input or output`);
    this.input = direction.length > 0 ? direction.includes('input') : this.topics.length > 0;
    this.output = direction.length > 0 ? direction.includes('output') : this.publishTopic !== undefined;
    if (!this.input && !this.output) {
      throw md.error('topics', 'set topics (comma-separated topics to consume: input) and/or publishTopic (the topic `create` produces to: output)');
    }
    if (this.input && this.topics.length === 0) throw md.error('topics', 'topics is required for an input binding (comma-separated topics to consume)');
    if (this.output && this.publishTopic === undefined) {
      throw md.error('publishTopic', 'publishTopic is required for an output binding (the topic `create` produces to)');
    }
    this.client = await KafkaClient.connect(init.name, settings, init.logger);
  }

  async close(): Promise<void> {
    if (this.consumers.closed) return;
    await this.consumers.close();
    await this.client?.close();
  }

  /** The brokers answer, and no consumer is down (kafkajs gave up on it and it is being re-created: kafka.restarts.ts). */
  async ping(): Promise<void> {
    const client = this.open();
    await client.admin.describeCluster();
    this.consumers.checkRunning(client, this.clock);
  }

  async read(handler: BindingHandler): Promise<InputBindingHandle> {
    const client = this.open();
    if (!this.input) throw this.metadata.error('direction', `binding ${this.name} is not an input binding`);
    await Promise.all(this.topics.map((topic) => client.ensureTopic(topic)));
    // The component may close while the consumer starts: then it is closed again and this fails.
    return this.consumers.subscribe(
      client,
      this.clock,
      {
        groupId: this.consumerGroup,
        topics: this.topics,
        handler: async ({ topic, partition, message }) => {
          const metadata: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) {
            const last = Array.isArray(value) ? value[value.length - 1] : value;
            if (last !== undefined) metadata[name] = last.toString();
          }
          Object.assign(metadata, { topic, partition: String(partition), offset: message.offset });
          if (message.key) metadata.key = message.key.toString();
          await handler({ data: message.value ?? Buffer.alloc(0), metadata });
        },
      },
      () => this.closedError(),
    );
  }

  async invoke(request: BindingRequest): Promise<BindingResponse> {
    const client = this.open();
    if (!this.output || this.publishTopic === undefined) {
      throw this.metadata.error('direction', `binding ${this.name} is not an output binding (set publishTopic)`);
    }
    if (request.operation !== 'create') {
      throw new SidekickError('ERR_INVOKE_OUTPUT_BINDING', `binding ${this.name} does not support operation ${request.operation}; supported: create`, {
        component: this.name,
      });
    }
    await client.send(this.publishTopic, [client.toMessage(request.data, request.metadata)]);
    return {};
  }

  private open(): KafkaClient {
    if (!this.client || this.consumers.closed) throw this.closedError();
    return this.client;
  }

  private closedError(): SidekickError {
    return new SidekickError('ERR_BINDING_CLOSED', `kafka binding ${this.name} is ${this.consumers.closed ? 'closed' : 'not initialised'}`, {
      component: this.name,
      retryable: true,
    });
  }
}

export const kafkaBindingFactory: ComponentFactory<KafkaBinding> = {
  type: 'bindings.kafka',
  kind: 'bindings',
  versions: ['v1'],
  create: () => new KafkaBinding(),
};
