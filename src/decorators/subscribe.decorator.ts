import { SIDEKICK_SUBSCRIBE } from './constants';

export interface BulkSubscribeOptions {
  readonly enabled: boolean;
  /** Most events handed to the handler at once (default 100). */
  readonly maxMessagesCount?: number;
  /** Longest wait for a batch to fill, in ms (default 1000). */
  readonly maxAwaitDurationMs?: number;
}

export interface SubscribeOptions {
  /** The pub/sub component name. */
  readonly pubsub: string;
  readonly topic: string;
  /** Where events go when retries are exhausted or the handler drops them (same pub/sub). */
  readonly deadLetterTopic?: string;
  /**
   * Routing rules: this handler receives the events for which any rule's CEL `match` is true
   * (e.g. `event.type == "order.created" && event.data.total > 100`). A handler without rules is the
   * topic's default route. Rules of all handlers of a topic are tried in declaration order.
   */
  readonly rules?: readonly { readonly match: string }[];
  /** Handle events in batches: the handler receives an array. */
  readonly bulk?: BulkSubscribeOptions;
  /** Subscription metadata passed to the component (e.g. `rawPayload: "true"`). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Most events handled at once by this subscription. */
  readonly concurrency?: number;
}

/** `@Subscribe`s of one method, as stored in metadata on the method function. */
export type SubscribeMetadata = readonly SubscribeOptions[];

/**
 * Subscribes a provider or controller method to a topic. The method receives a `TopicEvent<T>` (the
 * typed `data` plus the CloudEvent envelope); returning acknowledges, throwing retries (then dead-letters),
 * throwing `DropEvent` drops. Plain-function form: {@link subscribe}.
 */
export function Subscribe(options: SubscribeOptions): MethodDecorator {
  validate(options);
  return (target, propertyKey, descriptor) => {
    addMetadata(descriptor.value, options, `${target.constructor.name}.${String(propertyKey)}`);
  };
}

/** The plain-function form of `@Subscribe`: `subscribe(OrderHandler, 'onOrder', { pubsub, topic })`. */
export function subscribe(type: { prototype: object; name: string }, methodName: string, options: SubscribeOptions): void {
  validate(options);
  addMetadata((type.prototype as Record<string, unknown>)[methodName], options, `${type.name}.${methodName}`);
}

function addMetadata(method: unknown, options: SubscribeOptions, where: string): void {
  if (typeof method !== 'function') throw new TypeError(`@Subscribe goes on a method; ${where} is not one`);
  const list: SubscribeMetadata = Reflect.getOwnMetadata(SIDEKICK_SUBSCRIBE, method) ?? [];
  Reflect.defineMetadata(SIDEKICK_SUBSCRIBE, [...list, options], method);
}

function validate(options: SubscribeOptions): void {
  if (!options || typeof options.pubsub !== 'string' || options.pubsub === '') {
    throw new TypeError('@Subscribe needs { pubsub: "<component name>", topic: "<topic>" }: pubsub is missing');
  }
  if (typeof options.topic !== 'string' || options.topic === '') {
    throw new TypeError(`@Subscribe({ pubsub: "${options.pubsub}" }) needs a topic`);
  }
}
