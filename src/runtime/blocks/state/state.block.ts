import { ConfigError } from '../../../errors/config.errors';
import { StateStoreNotFoundError } from '../../../errors/state.errors';
import type { StateStore } from '../../../spi/state.store';
import { SIDEKICK_STATE_STORE_PARAMS } from '../../../decorators/constants';
import type { StateStoreParam } from '../../../decorators/state-store.decorator';
import { ComponentLookup } from '../../components/component.lookup';
import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { stateRoutes } from './state.routes';
import { StateService } from './state.service';

/** State management: `StateService`, `/v1.0/state/...`, and the check of every `@StateStore(name)`. */
export const stateBlock: BlockDefinition = {
  name: 'state',
  create(ctx: BlockContext): BuildingBlock {
    const stores = new ComponentLookup<StateStore>(
      ctx.components,
      'state',
      () => true,
      (name, known) => new StateStoreNotFoundError(name, known),
      ctx.readiness,
    );
    const service = new StateService(stores, ctx.appId, ctx.options.namespace);
    return {
      name: 'state',
      services: [service],
      prepare(discovery) {
        const names = service.storeNames();
        for (const usage of discovery.classesWith<readonly StateStoreParam[]>(SIDEKICK_STATE_STORE_PARAMS)) {
          for (const param of usage.metadata) {
            if (!names.includes(param.store)) {
              const failure = ctx.components.failure(param.store);
              throw new ConfigError(
                failure
                  ? `@StateStore("${param.store}") in ${usage.name}: state store "${param.store}" failed to initialise (spec.ignoreErrors let the app start without it): ${failure}`
                  : `@StateStore("${param.store}") in ${usage.name} names no loaded state store; configured state stores: ${names.join(', ') || 'none'}`,
                { component: param.store },
              );
            }
          }
        }
      },
      routes: () => stateRoutes(service, ctx.options.httpApi.maxBulkKeys),
    };
  },
};
