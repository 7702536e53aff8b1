import type { SidekickRuntime } from '../sidekick.runtime';
import type { HttpApiServer } from './http-api.server';
import { invokeRoutes } from './invoke.routes';
import { pubsubRoutes } from './pubsub.routes';
import { runtimeRoutes } from './runtime.routes';
import { stateRoutes } from './state.routes';

/** Every Dapr HTTP API route this runtime serves, in one table. */
export function mountHttpApi(server: HttpApiServer, runtime: SidekickRuntime): void {
  const state = stateRoutes(runtime.state);
  const invoke = invokeRoutes(runtime.invoke);
  const meta = runtimeRoutes(runtime, new Map());
  const pubsub = pubsubRoutes(runtime.pubsub, runtime.bindings);

  server.add({ methods: ['GET'], path: '/v1.0/healthz', handler: meta.healthz, public: true });
  server.add({ methods: ['GET'], path: '/v1.0/healthz/outbound', handler: meta.outbound, public: true });
  server.add({ methods: ['GET'], path: '/v1.0/metadata', handler: meta.metadata });
  server.add({ methods: ['PUT'], path: '/v1.0/metadata/:key', handler: meta.putMetadata });

  server.add({ methods: ['POST', 'PUT'], path: '/v1.0/state/:store', handler: state.save });
  server.add({ methods: ['POST', 'PUT'], path: '/v1.0/state/:store/bulk', handler: state.bulkGet });
  server.add({ methods: ['POST', 'PUT'], path: '/v1.0/state/:store/transaction', handler: state.transaction });
  server.add({ methods: ['GET'], path: '/v1.0/state/:store/:key', handler: state.get });
  server.add({ methods: ['DELETE'], path: '/v1.0/state/:store/:key', handler: state.delete });

  server.add({ methods: ['POST', 'PUT'], path: '/v1.0/publish/:pubsub/*', handler: pubsub.publish });
  server.add({ methods: ['POST', 'PUT'], path: '/v1.0-alpha1/publish/bulk/:pubsub/*', handler: pubsub.bulkPublish });
  server.add({ methods: ['POST', 'PUT'], path: '/v1.0/publish/bulk/:pubsub/*', handler: pubsub.bulkPublish });
  server.add({ methods: ['POST', 'PUT'], path: '/v1.0/bindings/:name', handler: pubsub.invokeBinding });

  const verbs = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;
  server.add({ methods: [...verbs], path: '/v1.0/invoke/:appId/method/*', handler: invoke.byPath });
  server.setFallback(invoke.byHeader);
}
