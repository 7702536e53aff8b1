import { SIDEKICK_CONFIGURATION_CHANGE } from './constants';

export interface OnConfigurationChangeOptions {
  /** The configuration store component (`configuration.redis`, `configuration.postgresql`, ...). */
  readonly store: string;
  /** The keys to watch; empty or omitted = every key of the store. */
  readonly keys?: readonly string[];
  /** Subscribe metadata passed to the store (e.g. `pgNotifyChannel` for `configuration.postgresql`). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** `@OnConfigurationChange`s of one method, as stored in metadata on the method function. */
export type OnConfigurationChangeMetadata = readonly OnConfigurationChangeOptions[];

/**
 * Receives the changes of configuration items: the method gets a `ConfigurationChange` (`store`,
 * `items` changed, `deleted` keys) for each change, one at a time, in the order the store saw them.
 * A handler that throws is logged; the subscription goes on. Plain-function form: {@link onConfigurationChange}.
 */
export function OnConfigurationChange(options: OnConfigurationChangeOptions): MethodDecorator {
  check(options);
  return (target, propertyKey, descriptor) => {
    addMetadata(descriptor.value, options, `${target.constructor.name}.${String(propertyKey)}`);
  };
}

/** The plain-function form of `@OnConfigurationChange`: `onConfigurationChange(FlagWatcher, 'onFlags', { store, keys })`. */
export function onConfigurationChange(type: { prototype: object; name: string }, methodName: string, options: OnConfigurationChangeOptions): void {
  check(options);
  addMetadata((type.prototype as Record<string, unknown>)[methodName], options, `${type.name}.${methodName}`);
}

function check(options: OnConfigurationChangeOptions): void {
  if (typeof options !== 'object' || options === null || typeof options.store !== 'string' || options.store === '') {
    throw new TypeError('@OnConfigurationChange({ store, keys? }) needs the configuration store component name');
  }
  if (options.keys !== undefined && (!Array.isArray(options.keys) || options.keys.some((k) => typeof k !== 'string'))) {
    throw new TypeError(`@OnConfigurationChange({ store: "${options.store}", keys }): keys must be an array of strings`);
  }
}

function addMetadata(method: unknown, options: OnConfigurationChangeOptions, where: string): void {
  if (typeof method !== 'function') throw new TypeError(`@OnConfigurationChange goes on a method; ${where} is not one`);
  const list: OnConfigurationChangeMetadata = Reflect.getOwnMetadata(SIDEKICK_CONFIGURATION_CHANGE, method) ?? [];
  Reflect.defineMetadata(SIDEKICK_CONFIGURATION_CHANGE, [...list, options], method);
}
