import type { DeclarativeSubscription } from '../../../config/subscription.loader';
import { ConfigError } from '../../../errors/config.errors';
import { errorMessage } from '../../../errors/sidekick.error';
import { type Clock, withDeadline } from '../../../spi/clock';
import type { SidekickLogger } from '../../../spi/logger';
import type { SubscribeOptions } from '../../../decorators/subscribe.decorator';
import type { DiscoveredMethod } from '../../discovery/sidekick.explorer';
import type { Interception } from '../../interception/interception';
import { NameRegistry } from '../../registry/name.registry';
import type { InvokeService } from '../invoke/invoke.service';
import type { RetryPolicy } from '../../resiliency/retry.policy';
import type { PubSubService } from './pubsub.service';
import type { DiscoveredSubscription, SubscriptionSpec } from './pubsub.types';
import { httpTarget, interceptedTarget, methodTarget } from './route.targets';
import { loadCel } from './routing';
import { SubscriptionRunner } from './subscription.runner';

/**
 * Turns `@Subscribe` methods and `Subscription` YAML into one running subscription per
 * (pubsub, topic). Everything is validated before anything starts: unknown pub/subs, conflicting
 * options, bad CEL rules and duplicates fail start-up with names.
 */
export class SubscriptionsManager {
  private runners: SubscriptionRunner[] = [];

  constructor(
    private readonly pubsub: PubSubService,
    private readonly invoke: InvokeService,
    private readonly policy: RetryPolicy,
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
    private readonly appId: string,
    private readonly interception: Interception,
    /** The content type events are POSTed to the app's routes with (sidecar mode: daprd's `application/cloudevents+json`). */
    private readonly deliveryContentType?: string,
  ) {}

  /** Builds every runner (validating, routing rules compiled), without subscribing yet. */
  async prepare(discovered: readonly DiscoveredMethod<readonly SubscribeOptions[]>[], declarative: readonly DeclarativeSubscription[]): Promise<void> {
    const registry = new NameRegistry<SubscriptionSpec>('subscription');
    for (const spec of [...fromDecorators(discovered), ...this.fromYaml(declarative)]) {
      const known = this.pubsub.names();
      if (!known.includes(spec.pubsub)) {
        throw new ConfigError(`${spec.origin} subscribes to pub/sub "${spec.pubsub}", which is not loaded; loaded pub/subs: ${known.join(', ') || 'none'}`);
      }
      registry.register(`${spec.pubsub}/${spec.topic}`, spec, spec.origin);
    }
    const specs = this.interception.active('delivery')
      ? registry.values().map((spec) => ({ ...spec, routes: spec.routes.map((r) => interceptedTarget(r, spec, this.interception)) }))
      : registry.values();
    const cel = await loadCel(specs.flatMap((spec) => spec.routes));
    this.runners = specs.map((spec) => new SubscriptionRunner(spec, this.pubsub, this.policy, this.clock, this.logger, this.appId, cel));
  }

  async start(): Promise<void> {
    for (const runner of this.runners) {
      await runner.start();
      this.logger.info({ pubsub: runner.spec.pubsub, topic: runner.spec.topic, handlers: runner.router.handlers() }, 'subscribed');
    }
  }

  /**
   * Stops every subscription: no new events; in-flight handlers finish and are acknowledged, for at
   * most `deadlineMs`. Past it the pub/subs still draining are aborted (their running handlers'
   * messages are not acknowledged, so the broker delivers them again) and shutdown goes on.
   */
  async stop(deadlineMs: number): Promise<void> {
    let results: PromiseSettledResult<void>[];
    try {
      results = await withDeadline(deadlineMs, () => Promise.allSettled(this.runners.map((r) => r.stop())));
    } catch {
      return this.abandon(deadlineMs); // allSettled never rejects: the deadline passed
    }
    for (const result of results) {
      if (result.status === 'rejected') this.logger.error({ err: errorMessage(result.reason) }, 'subscription failed to stop cleanly');
    }
  }

  private async abandon(deadlineMs: number): Promise<void> {
    const draining = this.runners.filter((r) => !r.stopped);
    const names = [...new Set(draining.map((r) => r.spec.pubsub))];
    this.logger.error(
      { subscriptions: draining.map((r) => `${r.spec.pubsub}/${r.spec.topic}`), drainTimeoutMs: deadlineMs },
      `handlers still running ${deadlineMs} ms into shutdown (drainTimeoutMs): abandoning them; their messages were not acknowledged and will be delivered again`,
    );
    const aborted = await Promise.allSettled(names.map(async (name) => (await this.pubsub.component(name)).abort?.()));
    for (const result of aborted) {
      if (result.status === 'rejected') this.logger.error({ err: errorMessage(result.reason) }, 'aborting a pub/sub failed');
    }
  }

  list(): readonly SubscriptionRunner[] {
    return this.runners;
  }

  private fromYaml(subs: readonly DeclarativeSubscription[]): SubscriptionSpec[] {
    return subs
      .filter((s) => !s.scopes || s.scopes.length === 0 || s.scopes.includes(this.appId))
      .map((s) => {
        const routes = s.rules.map((r) => httpTarget(this.invoke, this.appId, r.path, [r.match], s.pubsub, this.deliveryContentType));
        if (s.defaultPath) routes.push(httpTarget(this.invoke, this.appId, s.defaultPath, [], s.pubsub, this.deliveryContentType));
        return {
          pubsub: s.pubsub,
          topic: s.topic,
          deadLetterTopic: s.deadLetterTopic,
          metadata: s.metadata,
          bulk: s.bulk,
          routes: s.bulk?.enabled ? routes.slice(-1) : routes,
          type: 'DECLARATIVE' as const,
          origin: `${s.source} (subscription "${s.name}")`,
        };
      });
  }
}

/** Groups `@Subscribe` methods by (pubsub, topic) into one subscription with a route per method. */
function fromDecorators(methods: readonly DiscoveredMethod<readonly SubscribeOptions[]>[]): SubscriptionSpec[] {
  const found = methods.flatMap((m) =>
    m.metadata.map((options): DiscoveredSubscription => ({ instance: m.instance, methodName: m.methodName, name: m.name, options })),
  );
  const groups = new Map<string, DiscoveredSubscription[]>();
  for (const f of found) {
    const key = `${f.options.pubsub}/${f.options.topic}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  return [...groups.values()].map((members) => {
    const first = members[0] as DiscoveredSubscription;
    const where = members.map((m) => m.name).join(', ');
    const agree = <T>(pick: (m: DiscoveredSubscription) => T | undefined, field: string): T | undefined => {
      const values = [
        ...new Set(
          members
            .map(pick)
            .filter((v) => v !== undefined)
            .map((v) => JSON.stringify(v)),
        ),
      ];
      if (values.length > 1)
        throw new ConfigError(`@Subscribe handlers of ${first.options.pubsub}/${first.options.topic} (${where}) disagree on ${field}: ${values.join(' vs ')}`);
      return values[0] === undefined ? undefined : (JSON.parse(values[0]) as T);
    };
    const bulk = agree((m) => m.options.bulk, 'bulk');
    if (bulk?.enabled && members.length > 1) {
      throw new ConfigError(`bulk subscription ${first.options.pubsub}/${first.options.topic} must have a single handler, found ${where}`);
    }
    return {
      pubsub: first.options.pubsub,
      topic: first.options.topic,
      deadLetterTopic: agree((m) => m.options.deadLetterTopic, 'deadLetterTopic'),
      metadata: agree((m) => m.options.metadata, 'metadata') ?? {},
      bulk,
      concurrency: agree((m) => m.options.concurrency, 'concurrency'),
      routes: members.map(methodTarget),
      type: 'PROGRAMMATIC' as const,
      origin: `@Subscribe on ${where}`,
    };
  });
}
