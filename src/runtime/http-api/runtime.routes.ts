import type { ComponentManager } from '../components/component.manager';
import type { Readiness } from '../readiness';
import { type ApiContext, ApiError, sendJson, sendNoContent } from './api-context';

export const RUNTIME_VERSION = 'sidekick-0.1.0';

const STATE_CAPABILITIES: Readonly<Record<string, string>> = { ETAG: 'ETAG', TRANSACTIONAL: 'TRANSACTIONAL', TTL: 'TTL', ACTOR: 'ACTOR' };

/** `/v1.0/healthz`, `/v1.0/healthz/outbound`, `/v1.0/metadata`. */
export function runtimeRoutes(appId: string, components: ComponentManager, readiness: Readiness, extended: Map<string, string>) {
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
        return { name: spec.name, type: spec.type, version: spec.version, capabilities: features.filter((f) => STATE_CAPABILITIES[f]) };
      });
      sendJson(ctx.res, 200, {
        id: appId,
        runtimeVersion: RUNTIME_VERSION,
        enabledFeatures: [],
        actors: [],
        components: list,
        extended: { daprRuntimeVersion: RUNTIME_VERSION, ...Object.fromEntries(extended) },
        subscriptions: [],
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
