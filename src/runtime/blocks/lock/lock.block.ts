import { SIDEKICK_WITH_LOCK, SIDEKICK_WITH_LOCK_RUNNER } from '../../../decorators/constants';
import type { WithLockMetadata, WithLockRunner } from '../../../decorators/with-lock.decorator';
import { ConfigError } from '../../../errors/config.errors';
import { LockStoreNotFoundError } from '../../../errors/lock.errors';
import { isLockStore, type LockStore } from '../../../spi/lock.store';
import { ComponentLookup } from '../../components/component.lookup';
import type { BlockContext, BlockDefinition, BuildingBlock } from '../building-block';
import { lockRoutes } from './lock.routes';
import { LockService } from './lock.service';

/** Distributed lock: `LockService`, `/v1.0-alpha1/lock|unlock/{store}`, and the wiring of `@WithLock` methods. */
export const lockBlock: BlockDefinition = {
  name: 'lock',
  create(ctx: BlockContext): BuildingBlock {
    const stores = new ComponentLookup<LockStore>(ctx.components, 'lock', isLockStore, (name, known) => new LockStoreNotFoundError(name, known), ctx.readiness);
    const service = new LockService(stores, ctx.appId, ctx.clock, ctx.logger);
    const runner: WithLockRunner = (store, resourceId, fn, options) => service.withLock(store, resourceId, fn, options);
    return {
      name: 'lock',
      services: [service],
      prepare(discovery) {
        service.checkKeyPrefixes();
        const names = service.storeNames();
        for (const method of discovery.methodsWith<WithLockMetadata>(SIDEKICK_WITH_LOCK, '@WithLock')) {
          const { store } = method.metadata;
          if (!names.includes(store)) {
            const failure = ctx.components.failure(store);
            throw new ConfigError(
              failure
                ? `@WithLock("${store}") on ${method.name}: lock store "${store}" failed to initialise (spec.ignoreErrors let the app start without it): ${failure}`
                : `@WithLock("${store}") on ${method.name} names no loaded lock store; configured lock stores: ${names.join(', ') || 'none'} (add a component of type lock.redis, lock.postgresql or lock.in-memory)`,
              { component: store },
            );
          }
          Reflect.defineMetadata(SIDEKICK_WITH_LOCK_RUNNER, runner, method.instance);
        }
      },
      routes: () => lockRoutes(service),
    };
  },
};
