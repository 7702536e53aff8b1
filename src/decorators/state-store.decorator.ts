import { Inject } from '@nestjs/common';
import { getStateStoreToken, SIDEKICK_STATE_STORE_PARAMS } from './constants';

/** One `@StateStore(name)` parameter, recorded on its class for discovery. */
export interface StateStoreParam {
  readonly store: string;
  readonly index: number;
}

/**
 * Names asked for by `@StateStore(name)` so far. Decorators run when their files load, which is before
 * `SidekickModule.forRoot()` is evaluated in the importing module, so forRoot can declare a provider
 * for each name. Append-only data, like Reflect metadata; it holds no instances.
 */
const requested = new Set<string>();

/** The state store names requested through `@StateStore` (read by `SidekickModule.forRoot`). */
export function requestedStateStores(): readonly string[] {
  return [...requested];
}

/**
 * Injects a typed {@link StateClient} for the named state store component:
 * `constructor(@StateStore('statestore') private readonly orders: StateClient<Order>) {}`.
 * A name that matches no loaded component fails start-up with the list of configured stores.
 * The plain-function form is `sidekick.state<Order>('statestore')` on {@link SidekickClient}.
 */
export function StateStore(name: string): ParameterDecorator {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError('@StateStore(name) needs the state store component name, e.g. @StateStore("statestore")');
  }
  requested.add(name);
  const inject = Inject(getStateStoreToken(name));
  return (target, propertyKey, index) => {
    if (propertyKey !== undefined) {
      throw new TypeError(`@StateStore("${name}") goes on a constructor parameter, not on method ${String(propertyKey)}`);
    }
    const params: StateStoreParam[] = Reflect.getMetadata(SIDEKICK_STATE_STORE_PARAMS, target) ?? [];
    Reflect.defineMetadata(SIDEKICK_STATE_STORE_PARAMS, [...params, { store: name, index }], target);
    inject(target, propertyKey, index);
  };
}
