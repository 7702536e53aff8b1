import { errorMessage } from '../../../errors/sidekick.error';
import type { Clock } from '../../../spi/clock';
import type { SidekickLogger } from '../../../spi/logger';
import type { ReceivedMessage, SubscriptionHandle } from '../../../spi/pubsub';
import { type CloudEvent, eventData, isExpired, parseCloudEvent } from './cloudevent';
import type { RetryPolicy } from '../../resiliency/retry.policy';
import type { PubSubService } from './pubsub.service';
import type { Outcome, RouteTarget, SubscriptionSpec, SubscriptionStats, TopicEvent } from './pubsub.types';
import { type Cel, Router } from './routing';
import { BulkBatcher } from './bulk.batcher';
import { isThenable } from './outcome';

/** What a handled message resolves with (one shared promise: nothing is allocated per event). */
const DONE: Promise<void> = Promise.resolve();

/**
 * Runs one subscription: receives messages from the component, parses the CloudEvent, routes it,
 * calls the handler with retries, and dead-letters or drops as Dapr does. Resolving the component's
 * handler acknowledges; rejecting leaves the message with the broker for redelivery.
 */
export class SubscriptionRunner {
  readonly stats: SubscriptionStats = { delivered: 0, retried: 0, dropped: 0, deadLettered: 0, malformed: 0, unrouted: 0 };
  readonly router: Router;
  private handle?: SubscriptionHandle;
  private closing = false;
  private done = false;
  private readonly log: SidekickLogger;
  private readonly batcher?: BulkBatcher;

  constructor(
    readonly spec: SubscriptionSpec,
    private readonly pubsub: PubSubService,
    private readonly policy: RetryPolicy,
    private readonly clock: Clock,
    logger: SidekickLogger,
    private readonly consumerGroup: string,
    cel: Cel | undefined,
  ) {
    this.router = new Router(spec.routes, `subscription ${spec.pubsub}/${spec.topic} (${spec.origin})`, cel);
    this.log = logger.child({ pubsub: spec.pubsub, topic: spec.topic });
    // A bulk subscription has exactly one route (SubscriptionsManager checks it before building runners).
    const target = spec.routes[0];
    if (spec.bulk?.enabled && target) {
      this.batcher = new BulkBatcher(target, spec.bulk, clock, policy, (event, outcome) => this.settle(event, outcome), this.log);
    }
  }

  async start(): Promise<void> {
    const component = await this.pubsub.component(this.spec.pubsub);
    this.handle = await component.subscribe(
      { topic: this.spec.topic, consumerGroup: this.consumerGroup, concurrency: this.spec.concurrency, metadata: this.spec.metadata },
      (message) => this.onMessage(message),
    );
  }

  /** Stop fetching; in-flight handlers finish (a handler waiting to retry gives its message back). */
  async stop(): Promise<void> {
    this.closing = true;
    this.batcher?.flushNow();
    await this.handle?.close();
    this.handle = undefined;
    this.done = true;
  }

  /** True once stop() completed: nothing of this subscription runs any more. */
  get stopped(): boolean {
    return this.done;
  }

  /**
   * The component's handler. Synchronous up to the user's handler: when that returns normally the
   * message is acknowledged with a shared resolved promise, and only failures, asynchronous
   * handlers, dead letters and bulk batches take the async path.
   */
  private onMessage(message: ReceivedMessage): Promise<void> {
    try {
      const raw = this.spec.metadata['rawPayload'] === 'true';
      const parsed = parseCloudEvent(message.data, raw, this.spec.topic, this.spec.pubsub);
      if (!parsed.ok) {
        this.stats.malformed += 1;
        if (this.spec.deadLetterTopic) {
          this.log.error({ reason: parsed.reason, deadLetterTopic: this.spec.deadLetterTopic }, 'malformed event: sent to the dead-letter topic');
          return this.deadLetterOrDrop(message.data, `malformed: ${parsed.reason}`);
        }
        // Never acknowledged without reaching a handler or a dead-letter topic: it stays with the broker.
        this.log.error({ reason: parsed.reason }, 'malformed event: not delivered and not acknowledged (set a deadLetterTopic to move such events aside)');
        return Promise.reject(new Error(`malformed event: ${parsed.reason}`));
      }
      const event = toTopicEvent(parsed.event, message, this.spec);
      if (isExpired(parsed.event, this.clock.now())) {
        this.log.warn({ id: event.id, expiration: parsed.event.expiration }, 'event expired before delivery');
        // The dead letter loses its expiration, or the dead-letter subscriber would drop it as expired too.
        const { expiration: _expired, ...kept } = parsed.event;
        return this.deadLetterOrDrop(Buffer.from(JSON.stringify(kept)), 'expired');
      }
      if (this.batcher) return this.batcher.add(event, message.data);
      const target = this.router.route(event, (rule, err) => this.log.warn({ rule, err: err.message }, 'routing rule failed to evaluate'));
      if (!target) {
        this.stats.unrouted += 1;
        this.log.warn({ id: event.id }, 'no route matched the event and there is no default route: dropped');
        return DONE;
      }
      const first = target.deliver(event);
      if (!isThenable(first) && first.status === 'success') {
        this.stats.delivered += 1;
        return DONE;
      }
      return this.attempt(target, event, first).then((outcome) => this.settle(message.data, outcome));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(errorMessage(err)));
    }
  }

  /** Given the first attempt's outcome, retries retryable failures with backoff until success, drop, or exhaustion. */
  private async attempt(target: RouteTarget, event: TopicEvent, first: Outcome | Promise<Outcome>): Promise<Outcome> {
    let nextDelay: (() => number) | undefined; // made only when a retry is needed
    let outcome = await first;
    for (let retry = 0; outcome.status === 'retry'; retry++) {
      const last = retry >= this.policy.maxRetries || !outcome.retryable || this.closing;
      this.log.warn({ id: event.id, handler: target.name, attempt: retry + 1, err: outcome.error.message, final: last }, 'event handler failed');
      if (last) return outcome;
      this.stats.retried += 1;
      nextDelay ??= this.policy.delays();
      await this.policy.sleep(nextDelay());
      outcome = await target.deliver(event);
    }
    return outcome;
  }

  /** Acknowledges (resolves) or gives the message back to the broker (throws). */
  private async settle(original: Buffer, outcome: Outcome): Promise<void> {
    if (outcome.status === 'success') {
      this.stats.delivered += 1;
      return;
    }
    if (outcome.status === 'drop') {
      this.log.warn({ reason: outcome.reason }, 'event dropped by its handler');
      return this.deadLetterOrDrop(original, outcome.reason);
    }
    if (this.spec.deadLetterTopic && !this.closing) return this.deadLetterOrDrop(original, outcome.error.message);
    // No dead-letter topic: leave it with the broker, which delivers it again later.
    throw outcome.error;
  }

  private async deadLetterOrDrop(original: Buffer, reason: string): Promise<void> {
    const dlq = this.spec.deadLetterTopic;
    if (!dlq) {
      this.stats.dropped += 1;
      return;
    }
    await this.pubsub.publishBytes(this.spec.pubsub, dlq, original, 'application/cloudevents+json');
    this.stats.deadLettered += 1;
    this.log.warn({ deadLetterTopic: dlq, reason }, 'event sent to the dead-letter topic');
  }
}

function toTopicEvent(event: CloudEvent, message: ReceivedMessage, spec: SubscriptionSpec): TopicEvent {
  return {
    id: event.id,
    source: event.source,
    type: event.type,
    topic: event.topic ?? spec.topic,
    pubsubname: event.pubsubname ?? spec.pubsub,
    datacontenttype: event.datacontenttype,
    time: event.time,
    traceparent: event.traceparent,
    data: eventData(event),
    envelope: event,
    metadata: message.metadata,
  };
}
