import type { SidekickRuntime } from '../sidekick.runtime';
import { type ApiContext, ApiError, sendJson, sendNoContent } from './api-context';

export const RUNTIME_VERSION = 'sidekick-0.1.0';

const CAPABILITIES = new Set(['ETAG', 'TRANSACTIONAL', 'TTL', 'ACTOR', 'MESSAGE_TTL', 'BULK_PUBLISH', 'SUBSCRIBE_WILDCARDS']);

/** `/v1.0/healthz`, `/v1.0/healthz/outbound`, `/v1.0/metadata`. */
export function runtimeRoutes(runtime: SidekickRuntime, extended: Map<string, string>) {
  const { components, readiness } = runtime;
  const appId = runtime.options.appId;
  return {
    healthz: async (ctx: ApiContext): Promise<void> => {
      if (!readiness.ready) throw new ApiError(500, 'ERR_HEALTH_NOT_READY', 'dapr is not ready: [components]');
      const asked = ctx.query.get('appid');
      if (asked !== null && asked !== appId) {
        throw new ApiError(500, 'ERR_HEALTH_APPID_NOT_MATCH', `dapr app-id does not match: asked ${asked}, this is ${appId}`);
      }
      sendNoContent(ctx.res);
    },

    outbound: async (ctx: ApiContext): Promise<void> => {
      if (!readiness.ready) throw new ApiError(500, 'ERR_OUTBOUND_HEALTH_NOT_READY', 'dapr outbound is not ready');
      sendNoContent(ctx.res);
    },

    metadata: async (ctx: ApiContext): Promise<void> => {
      const list = components.list().map(({ spec, instance }) => {
        const features = 'features' in instance && Array.isArray(instance.features) ? (instance.features as string[]) : [];
        const capabilities = features.filter((f) => CAPABILITIES.has(f));
        if (spec.kind === 'bindings') {
          if (components.inputBinding(spec.name)) capabilities.push('INPUT_BINDING');
          if (components.outputBinding(spec.name)) capabilities.push('OUTPUT_BINDING');
        }
        return { name: spec.name, type: spec.type, version: spec.version, capabilities };
      });
      const subscriptions = runtime.subscriptions.list().map((r) => ({
        pubsubname: r.spec.pubsub,
        topic: r.spec.topic,
        metadata: r.spec.metadata,
        rules: r.router.describe(),
        deadLetterTopic: r.spec.deadLetterTopic ?? '',
        type: r.spec.type,
      }));
      sendJson(ctx.res, 200, {
        id: appId,
        runtimeVersion: RUNTIME_VERSION,
        enabledFeatures: [],
        actors: [],
        components: list,
        extended: { daprRuntimeVersion: RUNTIME_VERSION, ...Object.fromEntries(extended) },
        subscriptions,
        httpEndpoints: [],
        actorRuntime: { runtimeStatus: 'DISABLED', activeActors: [], hostReady: false, placement: '' },
      });
    },

    putMetadata: async (ctx: ApiContext): Promise<void> => {
      extended.set(ctx.params['key'] ?? '', (await ctx.body()).toString('utf8'));
      sendNoContent(ctx.res);
    },
  };
}
