import { SIDEKICK_BINDING } from '../../../decorators/constants';
import { BindingNotFoundError } from '../../../errors/pubsub.errors';
import { type InputBinding, isInputBinding, isOutputBinding, type OutputBinding } from '../../../spi/binding';
import { AppChannel } from '../../app-channel/app-channel';
import { ComponentLookup } from '../../components/component.lookup';
import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { bindingsRoutes } from './bindings.routes';
import { BindingsService } from './bindings.service';

/** Dapr's `direction` metadata on bindings: `input`, `output` or `input, output`; unset allows both. */
export function allowsDirection(metadata: Readonly<Record<string, string>>, direction: 'input' | 'output'): boolean {
  const value = Object.entries(metadata).find(([k]) => k.toLowerCase() === 'direction')?.[1];
  return (
    value === undefined ||
    value
      .split(',')
      .map((d) => d.trim().toLowerCase())
      .includes(direction)
  );
}

/** Bindings: output operations (`/v1.0/bindings/{name}`) and input events delivered to `@Binding` methods. */
export const bindingsBlock: BlockDefinition = {
  name: 'bindings',
  create(ctx: BlockContext): BuildingBlock {
    const inputs = new ComponentLookup<InputBinding>(
      ctx.components,
      'bindings',
      (c, meta) => isInputBinding(c) && allowsDirection(meta, 'input'),
      (name, known) => new BindingNotFoundError(name, 'input', known),
      ctx.readiness,
    );
    const outputs = new ComponentLookup<OutputBinding>(
      ctx.components,
      'bindings',
      (c, meta) => isOutputBinding(c) && allowsDirection(meta, 'output'),
      (name, known) => new BindingNotFoundError(name, 'output', known),
      ctx.readiness,
    );
    const service = new BindingsService(inputs, outputs, ctx.logger, ctx.interception);
    // Sidecar mode: input bindings are POSTed to the app's `/{name}` routes once it is ready.
    const channel = ctx.options.appChannel ? ctx.service(AppChannel) : undefined;
    let pending: { cancel(): Promise<void> } | undefined;
    return {
      name: 'bindings',
      services: [service],
      prepare: (discovery) => service.prepare(discovery.methodsWith<readonly string[]>(SIDEKICK_BINDING, '@Binding')),
      start: async () => {
        if (!channel) return service.start();
        pending = channel.afterReady('reading input bindings into the app', () => service.startAppRoutes(channel));
      },
      stop: async () => {
        await pending?.cancel();
        await channel?.stopHealthChecks();
        await service.stop();
      },
      routes: () => bindingsRoutes(service),
      summary: () => ({ bindings: service.handlerList().map((h) => ({ name: h.binding, handler: h.name })) }),
    };
  },
};
