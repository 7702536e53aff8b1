import type { Server } from 'node:http';
import type { NameResolver } from '../../../spi/name-resolver';
import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { invokeRoutes } from './invoke.routes';
import { InvokeService } from './invoke.service';
import { LocalRegistry, StaticNameResolver } from './local-registry';

/**
 * Service invocation: `InvokeService` (in-process to this app, over HTTP to others found by name
 * resolution), `/v1.0/invoke/...`, and this app's entry in the machine-local registry (joined once
 * the app listens, left first on shutdown).
 */
export const invokeBlock: BlockDefinition = {
  name: 'invoke',
  create(ctx: BlockContext): BuildingBlock {
    const { options } = ctx;
    const resolvers: NameResolver[] = [new StaticNameResolver(options.nameResolution.static), ...options.nameResolution.resolvers];
    const registry = options.nameResolution.localRegistry ? new LocalRegistry(options.nameResolution.localRegistry) : undefined;
    if (registry) resolvers.push(registry);
    const service = new InvokeService(ctx.appId, resolvers, options.invokeTimeoutMs, ctx.logger, ctx.interception);
    let joined = false;
    let listening: { server: Server; join: () => void } | undefined;

    const joinWhenListening = (server: Server | undefined): void => {
      if (!registry || !server || typeof server.address !== 'function') return;
      const join = (): void => {
        const address = server.address();
        if (!address || typeof address === 'string') return;
        const host = address.address === '::' || address.address === '0.0.0.0' ? '127.0.0.1' : address.address.includes(':') ? `[${address.address}]` : address.address;
        const api = ctx.host.apiAddress();
        registry.join({
          appId: ctx.appId,
          pid: process.pid,
          baseUrl: `http://${host}:${address.port}`,
          httpApiUrl: api ? `http://${api.address}:${api.port}` : undefined,
          startedAt: new Date(ctx.clock.now()).toISOString(),
        });
        joined = true;
      };
      if (server.listening) join();
      else {
        server.once('listening', join);
        listening = { server, join };
      }
    };

    return {
      name: 'invoke',
      services: [service],
      async start() {
        service.setSelfDispatcher(ctx.host.dispatcher());
        joinWhenListening(ctx.host.httpServer());
      },
      async stop() {
        if (listening) listening.server.off('listening', listening.join);
        listening = undefined;
        if (registry && joined) registry.leave(ctx.appId, process.pid);
        joined = false;
      },
      routes: () => invokeRoutes(service),
    };
  },
};
