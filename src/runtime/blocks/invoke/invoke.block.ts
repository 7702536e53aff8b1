import type { Server } from 'node:http';
import { errorMessage } from '../../../errors/sidekick.error';
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
        const host =
          address.address === '::' || address.address === '0.0.0.0' ? '127.0.0.1' : address.address.includes(':') ? `[${address.address}]` : address.address;
        const api = ctx.host.apiAddress();
        const others = registry.list().filter((a) => a.appId === ctx.appId && a.pid !== process.pid);
        if (others.length > 0) {
          ctx.logger.info(
            { appId: ctx.appId, pids: others.map((a) => a.pid) },
            `${others.length} other running instance(s) of app id ${ctx.appId} on this machine: invocations of it are spread across all of them`,
          );
        }
        registry.join({
          appId: ctx.appId,
          pid: process.pid,
          baseUrl: `http://${host}:${address.port}`,
          httpApiUrl: api ? `http://${api.address}:${api.port}` : undefined,
          startedAt: new Date(ctx.clock.now()).toISOString(),
        });
        joined = true;
      };
      const safeJoin = (): void => {
        try {
          join();
        } catch (err) {
          ctx.logger.error({ err: errorMessage(err) }, 'could not join the local registry: other apps cannot invoke this one by name');
        }
      };
      if (server.listening) safeJoin();
      else {
        server.once('listening', safeJoin);
        listening = { server, join: safeJoin };
      }
    };

    return {
      name: 'invoke',
      services: [service],
      async start() {
        registry?.prepare(); // an unsafe registry folder fails start-up, naming it
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
