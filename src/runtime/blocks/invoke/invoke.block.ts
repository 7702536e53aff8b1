import type { Server } from 'node:http';
import { errorMessage } from '../../../errors/sidekick.error';
import type { NameResolver } from '../../../spi/name-resolver';
import { AppChannel, AppChannelClosedError } from '../../app-channel/app-channel';
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
    // Sidecar mode: this app id is another process, reached over HTTP; the other blocks deliver through it too.
    const channel = options.appChannel ? new AppChannel(options.appChannel, ctx.appId, ctx.logger) : undefined;
    let joined = false;
    let listening: { server: Server; join: () => void } | undefined;

    const join = (baseUrl: string): void => {
      if (!registry) return;
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
        baseUrl,
        httpApiUrl: api ? `http://${api.family === 'IPv6' ? `[${api.address}]` : api.address}:${api.port}` : undefined,
        startedAt: new Date(ctx.clock.now()).toISOString(),
      });
      joined = true;
    };
    const safeJoin = (baseUrl: string): void => {
      try {
        join(baseUrl);
      } catch (err) {
        ctx.logger.error({ err: errorMessage(err) }, 'could not join the local registry: other apps cannot invoke this one by name');
      }
    };

    const joinWhenListening = (server: Server | undefined): void => {
      if (!registry || !server || typeof server.address !== 'function') return;
      const joinListening = (): void => {
        const address = server.address();
        if (!address || typeof address === 'string') return;
        const host =
          address.address === '::' || address.address === '0.0.0.0' ? '127.0.0.1' : address.address.includes(':') ? `[${address.address}]` : address.address;
        safeJoin(`http://${host}:${address.port}`);
      };
      if (server.listening) joinListening();
      else {
        server.once('listening', joinListening);
        listening = { server, join: joinListening };
      }
    };

    // Sidecar mode: the registry names the app's own server (callers go straight to it), once it is ready.
    let joining: Promise<void> | undefined;
    const joinWhenAppReady = async (appChannel: AppChannel): Promise<void> => {
      try {
        await appChannel.ready();
      } catch (err) {
        if (err instanceof AppChannelClosedError) return;
        throw err;
      }
      // The HTTP API listens right after the blocks start: its address goes into the entry.
      for (let i = 0; i < 100 && !ctx.host.apiAddress(); i++) await new Promise((r) => setTimeout(r, 20));
      safeJoin(appChannel.url);
    };

    return {
      name: 'invoke',
      services: channel ? [service, channel] : [service],
      async start() {
        registry?.prepare(); // an unsafe registry folder fails start-up, naming it
        if (channel) {
          service.setSelfDispatcher(channel);
          joining = joinWhenAppReady(channel).catch((err: unknown) => ctx.logger.error({ err: errorMessage(err) }, 'waiting for the app failed'));
          return;
        }
        service.setSelfDispatcher(ctx.host.dispatcher());
        joinWhenListening(ctx.host.httpServer());
      },
      async stop() {
        if (listening) listening.server.off('listening', listening.join);
        listening = undefined;
        await channel?.close();
        await joining;
        if (registry && joined) registry.leave(ctx.appId, process.pid);
        joined = false;
      },
      routes: () => invokeRoutes(service),
    };
  },
};
