import { loadSubscriptions } from '../../../config/subscription.loader';
import { SIDEKICK_SUBSCRIBE } from '../../../decorators/constants';
import type { SubscribeOptions } from '../../../decorators/subscribe.decorator';
import { PubSubNotFoundError } from '../../../errors/pubsub.errors';
import type { PubSub } from '../../../spi/pubsub';
import { ComponentLookup } from '../../components/component.lookup';
import { RetryPolicy } from '../../resiliency/retry.policy';
import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { InvokeService } from '../invoke/invoke.service';
import { pubsubRoutes } from './pubsub.routes';
import { PubSubService } from './pubsub.service';
import { SubscriptionsManager } from './subscriptions.manager';

/**
 * Pub/sub: publishing (`PubSubService`, `/v1.0/publish/...`) and the subscriptions of `@Subscribe`
 * methods and `Subscription` YAML (retries with the block's retry policy, dead letters, drain).
 */
export const pubsubBlock: BlockDefinition = {
  name: 'pubsub',
  create(ctx: BlockContext): BuildingBlock {
    const pubsubs = new ComponentLookup<PubSub>(
      ctx.components,
      'pubsub',
      () => true,
      (name, known) => new PubSubNotFoundError(name, known),
      ctx.readiness,
    );
    const service = new PubSubService(pubsubs, ctx.appId, ctx.clock);
    const policy = new RetryPolicy(ctx.clock, ctx.options.pubsubRetry);
    const subscriptions = new SubscriptionsManager(service, ctx.service(InvokeService), policy, ctx.clock, ctx.logger, ctx.appId, ctx.interception);
    return {
      name: 'pubsub',
      services: [service, subscriptions],
      prepare: (discovery) =>
        subscriptions.prepare(
          discovery.methodsWith<readonly SubscribeOptions[]>(SIDEKICK_SUBSCRIBE, '@Subscribe'),
          loadSubscriptions(ctx.components.otherDocuments),
        ),
      start: () => subscriptions.start(),
      stop: (deadline) => subscriptions.stop(deadline.remainingMs()),
      routes: () => pubsubRoutes(service),
      summary: () => ({ subscriptions: subscriptions.list().map((r) => ({ pubsub: r.spec.pubsub, topic: r.spec.topic, routes: r.router.handlers() })) }),
      metadata: () => ({
        subscriptions: subscriptions.list().map((r) => ({
          pubsubname: r.spec.pubsub,
          topic: r.spec.topic,
          metadata: r.spec.metadata,
          rules: r.router.describe(),
          deadLetterTopic: r.spec.deadLetterTopic ?? '',
          type: r.spec.type,
        })),
      }),
    };
  },
};
