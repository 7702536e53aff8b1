import type { Component } from './component';

/** Capabilities a pub/sub advertises (Dapr's names). */
export type PubSubFeature = 'MESSAGE_TTL' | 'BULK_PUBLISH' | 'SUBSCRIBE_WILDCARDS';

/**
 * One message to publish. `data` is the exact bytes to put on the broker (a CloudEvent JSON or a raw
 * payload); a string stands for its UTF-8 bytes (the runtime passes JSON envelopes as strings, which
 * drivers write without a Buffer copy).
 */
export interface PublishRequest {
  readonly topic: string;
  readonly data: Buffer | string;
  readonly contentType?: string;
  /** Request metadata: `partitionKey`, `ttlInSeconds`, broker-specific keys. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A message as a subscriber receives it. */
export interface ReceivedMessage {
  readonly topic: string;
  readonly data: Buffer;
  /** Broker metadata (Kafka headers/partition/offset, Redis stream id, ...), passed to handlers. */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Handles one message. Resolving acknowledges it (XACK, offset commit); rejecting means "not
 * handled": the component must deliver it again later and must never drop it.
 */
export type MessageHandler = (message: ReceivedMessage) => Promise<void>;

export interface SubscribeRequest {
  readonly topic: string;
  /** The consumer group: instances of one app id share it (competing consumers). */
  readonly consumerGroup: string;
  /** Most messages this subscription handles at once (default 1 on ordered brokers). */
  readonly concurrency?: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A running subscription. */
export interface SubscriptionHandle {
  /** Stop fetching, wait for in-flight handlers (and their acks), then release the consumer. Safe to call twice. */
  close(): Promise<void>;
}

/** The pub/sub SPI. Delivery is at least once: nothing is acknowledged before its handler resolves. */
export interface PubSub extends Component {
  readonly features: readonly PubSubFeature[];
  publish(request: PublishRequest): Promise<void>;
  /** Publishes many; returns the indexes (into `requests`) that failed with their errors. */
  bulkPublish?(requests: readonly PublishRequest[]): Promise<{ readonly failed: readonly { index: number; error: Error }[] }>;
  /**
   * Starts consuming. Resolves once the consumer is in place: messages published after that are
   * delivered (for Kafka, once partitions are assigned). A new consumer group starts at the oldest
   * retained message unless the component's metadata says otherwise.
   */
  subscribe(request: SubscribeRequest, handler: MessageHandler): Promise<SubscriptionHandle>;
  /**
   * Optional: drops every subscription and connection at once, without waiting for running handlers
   * (shutdown past its drain deadline). Nothing in flight is acknowledged, so the broker delivers it
   * again; `close()` afterwards returns at once.
   */
  abort?(): void | Promise<void>;
}
