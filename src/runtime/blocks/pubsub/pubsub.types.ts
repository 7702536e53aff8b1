import type { BulkSubscribeOptions } from '../../../decorators/subscribe.decorator';
import type { CloudEvent } from './cloudevent';

/** What a subscription handler receives: the typed data plus the CloudEvent envelope. */
export interface TopicEvent<T = unknown> {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly topic: string;
  readonly pubsubname: string;
  readonly datacontenttype?: string;
  readonly time?: string;
  readonly traceparent?: string;
  /** `data` parsed (JSON), text, or a Buffer for binary (`data_base64`) events. */
  readonly data: T;
  /** The whole CloudEvent as received. */
  readonly envelope: CloudEvent;
  /** Broker metadata (partition, offset, stream id, headers...). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** A bulk handler may return a status per event id; a missing id counts as SUCCESS. */
export type BulkEventStatus = 'SUCCESS' | 'RETRY' | 'DROP';
export type BulkResult = Readonly<Record<string, BulkEventStatus>> | void;

/** How a delivery attempt ended. */
export type Outcome =
  | { readonly status: 'success' }
  | { readonly status: 'drop'; readonly reason: string }
  | { readonly status: 'retry'; readonly error: Error; readonly retryable: boolean };

/** One route of a subscription: a method, or an HTTP path of this app (declarative YAML subscriptions). */
export interface RouteTarget {
  /** `OrderHandler.onOrder` or `POST /orders`, for logs and errors. */
  readonly name: string;
  /** The app route events are POSTed to (declarative subscriptions), as `/v1.0/metadata` lists it; none for methods. */
  readonly path?: string;
  /** CEL expressions; empty = the default route. */
  readonly rules: readonly string[];
  /** A synchronous handler's outcome comes back as is (no promise on the hot path). */
  deliver(event: TopicEvent): Outcome | Promise<Outcome>;
  deliverBulk(events: readonly TopicEvent[]): Promise<BulkResult>;
}

/** A subscription as discovered (decorators) or loaded (YAML), before it runs. */
export interface SubscriptionSpec {
  readonly pubsub: string;
  readonly topic: string;
  readonly deadLetterTopic?: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly bulk?: BulkSubscribeOptions;
  readonly concurrency?: number;
  readonly routes: RouteTarget[];
  /** `PROGRAMMATIC` (decorators) or `DECLARATIVE` (YAML), as `/v1.0/metadata` reports it. */
  readonly type: 'PROGRAMMATIC' | 'DECLARATIVE';
  /** Where it was declared, for duplicate errors. */
  readonly origin: string;
}

export type { RetryPolicyOptions } from '../../resiliency/retry.policy';

/** Counters per subscription (read them in tests with `inspect(app).subscriptions()` from `@sidekick/core/testing`). */
export interface SubscriptionStats {
  delivered: number;
  retried: number;
  dropped: number;
  deadLettered: number;
  malformed: number;
  unrouted: number;
}

/** One `@Subscribe` registration: a method and one of its options. */
export interface DiscoveredSubscription {
  readonly instance: object;
  readonly methodName: string;
  /** `OrderHandler.onOrder`. */
  readonly name: string;
  readonly options: import('../../../decorators/subscribe.decorator').SubscribeOptions;
}
