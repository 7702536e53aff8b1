import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { SIDEKICK_STATE_STORE_PARAMS } from '../../decorators/constants';
import type { StateStoreParam } from '../../decorators/state-store.decorator';

/** A class that asked for a state store through `@StateStore(name)`. */
export interface StateStoreUsage {
  readonly store: string;
  readonly className: string;
}

/** Everything discovery found, as plain records. */
export interface DiscoveredRecords {
  readonly stateStores: readonly StateStoreUsage[];
}

/** Walks the app's providers and controllers (DiscoveryService) and reads Sidekick's metadata. */
@Injectable()
export class SidekickExplorer {
  constructor(private readonly discovery: DiscoveryService) {}

  explore(): DiscoveredRecords {
    const stateStores: StateStoreUsage[] = [];
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    const seen = new Set<unknown>();
    for (const wrapper of wrappers) {
      const type = wrapper.metatype;
      if (typeof type !== 'function' || seen.has(type)) continue;
      seen.add(type);
      const params: StateStoreParam[] | undefined = Reflect.getMetadata(SIDEKICK_STATE_STORE_PARAMS, type);
      for (const param of params ?? []) stateStores.push({ store: param.store, className: type.name });
    }
    return { stateStores };
  }
}
