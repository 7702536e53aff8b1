import { Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import type { BindingMetadata } from '../../decorators/binding.decorator';
import { ConfigError } from '../../errors/config.errors';
import { SIDEKICK_BINDING, SIDEKICK_STATE_STORE_PARAMS, SIDEKICK_SUBSCRIBE } from '../../decorators/constants';
import type { StateStoreParam } from '../../decorators/state-store.decorator';
import type { SubscribeMetadata, SubscribeOptions } from '../../decorators/subscribe.decorator';

/** A class that asked for a state store through `@StateStore(name)`. */
export interface StateStoreUsage {
  readonly store: string;
  readonly className: string;
}

/** A method to call, with where it is. */
export interface DiscoveredMethod {
  readonly instance: object;
  readonly methodName: string;
  /** `OrderHandler.onOrder`. */
  readonly name: string;
}

export interface DiscoveredSubscription extends DiscoveredMethod {
  readonly options: SubscribeOptions;
}

export interface DiscoveredBinding extends DiscoveredMethod {
  readonly binding: string;
}

/** Everything discovery found, as plain records. */
export interface DiscoveredRecords {
  readonly stateStores: readonly StateStoreUsage[];
  readonly subscriptions: readonly DiscoveredSubscription[];
  readonly bindings: readonly DiscoveredBinding[];
}

/**
 * Walks the app's providers and controllers (DiscoveryService), their methods (MetadataScanner), and
 * reads Sidekick's metadata into plain records.
 */
@Injectable()
export class SidekickExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  explore(): DiscoveredRecords {
    const stateStores: StateStoreUsage[] = [];
    const subscriptions: DiscoveredSubscription[] = [];
    const bindings: DiscoveredBinding[] = [];
    const seenTypes = new Set<unknown>();
    const seenInstances = new Set<unknown>();
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const type = wrapper.metatype;
      if (typeof type === 'function' && !seenTypes.has(type)) {
        seenTypes.add(type);
        const params: StateStoreParam[] | undefined = Reflect.getMetadata(SIDEKICK_STATE_STORE_PARAMS, type);
        for (const param of params ?? []) stateStores.push({ store: param.store, className: type.name });
      }
      const instance = usableInstance(wrapper);
      if (!instance) {
        this.rejectScopedHandlers(wrapper);
        continue;
      }
      if (seenInstances.has(instance)) continue;
      seenInstances.add(instance);
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const method = (prototype as Record<string, unknown>)[methodName];
        if (typeof method !== 'function') continue;
        const name = `${instance.constructor.name}.${methodName}`;
        const subs: SubscribeMetadata | undefined = Reflect.getMetadata(SIDEKICK_SUBSCRIBE, method);
        for (const options of subs ?? []) subscriptions.push({ instance, methodName, name, options });
        const binds: BindingMetadata | undefined = Reflect.getMetadata(SIDEKICK_BINDING, method);
        for (const binding of binds ?? []) bindings.push({ instance, methodName, name, binding });
      }
    }
    return { stateStores, subscriptions, bindings };
  }

  /** `@Subscribe`/`@Binding` on a request-scoped or transient provider cannot work: say so at start-up. */
  private rejectScopedHandlers(wrapper: InstanceWrapper): void {
    const type = wrapper.metatype;
    if (typeof type !== 'function' || !type.prototype) return;
    const prototype = type.prototype as object;
    for (const methodName of this.scanner.getAllMethodNames(prototype)) {
      const method = (prototype as Record<string, unknown>)[methodName];
      if (typeof method !== 'function') continue;
      if (Reflect.getMetadata(SIDEKICK_SUBSCRIBE, method) || Reflect.getMetadata(SIDEKICK_BINDING, method)) {
        throw new ConfigError(
          `${type.name}.${methodName} has @Subscribe/@Binding but ${type.name} is request-scoped or transient; event handlers must live in singleton providers (the default scope)`,
        );
      }
    }
  }
}

/** Singleton instances only: request-scoped providers cannot receive events. */
function usableInstance(wrapper: InstanceWrapper): object | undefined {
  if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) return undefined;
  const instance: unknown = wrapper.instance;
  return typeof instance === 'object' && instance !== null ? instance : undefined;
}
