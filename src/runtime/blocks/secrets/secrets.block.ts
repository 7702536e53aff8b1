import type { SecretStore } from '../../../spi/secret.store';
import { ComponentLookup } from '../../components/component.lookup';
import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { secretsRoutes } from './secrets.routes';
import { secretStoreNotFound, SecretsService } from './secrets.service';

/**
 * Secrets: `SecretsService` (scoped by the Configuration's `spec.secrets.scopes`), `/v1.0/secrets/...`,
 * and the values `@Secret` injects. Component `secretKeyRef`s are resolved by the component manager
 * straight from the store, without the scopes, as daprd does.
 */
export const secretsBlock: BlockDefinition = {
  name: 'secrets',
  create(ctx: BlockContext): BuildingBlock {
    const stores = new ComponentLookup<SecretStore>(ctx.components, 'secretstores', () => true, secretStoreNotFound, ctx.readiness);
    const service = new SecretsService(stores, () => ctx.configuration());
    return {
      name: 'secrets',
      services: [service],
      prepare() {
        // Reads the scopes now, so a bad one (a store listed twice) fails start-up, not the first request.
        const rules = service.rules();
        const loaded = service.storeNames();
        for (const store of rules.stores()) {
          if (!loaded.includes(store)) {
            ctx.logger.warn({ store, loaded }, `spec.secrets.scopes names secret store "${store}", which is not loaded: its scope applies to nothing`);
          }
        }
      },
      routes: () => secretsRoutes(service),
    };
  },
};
