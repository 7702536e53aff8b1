import { type DeclarativeSubscription, loadSubscriptions } from '../../../config/subscription.loader';
import { SIDEKICK_SUBSCRIBE } from '../../../decorators/constants';
import type { SubscribeOptions } from '../../../decorators/subscribe.decorator';
import { PubSubNotFoundError } from '../../../errors/pubsub.errors';
import { AppChannel } from '../../app-channel/app-channel';
import type { Discovery } from '../../discovery/sidekick.explorer';
import type { PubSub } from '../../../spi/pubsub';
import { ComponentLookup } from '../../components/component.lookup';
import { RetryPolicy } from '../../resiliency/retry.policy';
import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { InvokeService } from '../invoke/invoke.service';
import { CLOUDEVENT_CONTENT_TYPE } from './cloudevent';
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
    // Sidecar mode: the app's subscriptions come from its `GET /dapr/subscribe` once it is ready.
    const channel = ctx.options.appChannel ? ctx.service(AppChannel) : undefined;
    const subscriptions = new SubscriptionsManager(
      service,
      ctx.service(InvokeService),
      policy,
      ctx.clock,
      ctx.logger,
      ctx.appId,
      ctx.interception,
      channel ? CLOUDEVENT_CONTENT_TYPE : undefined,
    );
    let discovered: Discovery | undefined;
    let pending: { cancel(): Promise<void> } | undefined;
    const prepare = (discovery: Discovery, fromApp: readonly DeclarativeSubscription[] = []): Promise<void> =>
      subscriptions.prepare(discovery.methodsWith<readonly SubscribeOptions[]>(SIDEKICK_SUBSCRIBE, '@Subscribe'), [
        ...loadSubscriptions(ctx.components.otherDocuments),
        ...fromApp,
      ]);
    const startFromApp = async (appChannel: AppChannel, discovery: Discovery): Promise<void> => {
      const fromApp = (await appChannel.subscriptions()).filter((s) => {
        if (service.names().includes(s.pubsub)) return true;
        ctx.logger.warn({ pubsub: s.pubsub, topic: s.topic }, `the app subscribes to pub/sub "${s.pubsub}", which is not loaded: skipped`);
        return false;
      });
      await prepare(discovery, fromApp);
      await subscriptions.start();
    };
    return {
      name: 'pubsub',
      services: [service, subscriptions],
      prepare: (discovery) => {
        discovered = discovery;
        return channel ? undefined : prepare(discovery);
      },
      start: async () => {
        if (!channel) return subscriptions.start();
        const discovery = discovered;
        if (discovery) pending = channel.afterReady("reading the app's subscriptions", () => startFromApp(channel, discovery));
      },
      stop: async (deadline) => {
        await pending?.cancel();
        // Deliveries waiting for an unhealthy app give up (their events are delivered again later).
        await channel?.stopHealthChecks();
        await subscriptions.stop(deadline.remainingMs());
      },
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
