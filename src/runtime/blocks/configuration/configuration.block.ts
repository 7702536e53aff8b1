import { ConfigurationStoreNotFoundError } from '../../../errors/configuration.errors';
import { SIDEKICK_CONFIGURATION_CHANGE } from '../../../decorators/constants';
import type { OnConfigurationChangeOptions } from '../../../decorators/on-configuration-change.decorator';
import { type ConfigurationStore, isConfigurationStore } from '../../../spi/configuration.store';
import { ComponentLookup } from '../../components/component.lookup';
import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { InvokeService } from '../invoke/invoke.service';
import { configurationRoutes } from './configuration.routes';
import { ConfigurationService } from './configuration.service';

/** Configuration: `ConfigurationService`, `/v1.0/configuration/...`, and the `@OnConfigurationChange` handlers. */
export const configurationBlock: BlockDefinition = {
  name: 'configuration',
  create(ctx: BlockContext): BuildingBlock {
    const stores = new ComponentLookup<ConfigurationStore>(
      ctx.components,
      'configuration',
      isConfigurationStore,
      (name, known) => new ConfigurationStoreNotFoundError(name, known),
      ctx.readiness,
    );
    const service = new ConfigurationService(stores, ctx.logger, ctx.interception);
    return {
      name: 'configuration',
      services: [service],
      prepare: (discovery) =>
        service.prepare(discovery.methodsWith<readonly OnConfigurationChangeOptions[]>(SIDEKICK_CONFIGURATION_CHANGE, '@OnConfigurationChange')),
      start: () => service.start(),
      stop: () => service.stop(),
      routes: () => configurationRoutes(service, ctx.service(InvokeService), ctx.appId, ctx.logger),
      metadata: () => ({ configurationSubscriptions: service.list() }),
    };
  },
};
