import { SIDEKICK_BINDING } from './constants';

/** Binding names of one method, as stored in metadata on the method function. */
export type BindingMetadata = readonly string[];

/**
 * Receives the events of an input binding component (`bindings.cron`, `bindings.kafka`, ...). The
 * method gets a `BindingInput` (`data` parsed as JSON when it is JSON, the raw `bytes`, `metadata`);
 * returning acknowledges (the return value is the reply), throwing asks the binding to deliver again.
 * Plain-function form: {@link binding}.
 */
export function Binding(name: string): MethodDecorator {
  if (typeof name !== 'string' || name === '') throw new TypeError('@Binding(name) needs the binding component name');
  return (target, propertyKey, descriptor) => {
    addMetadata(descriptor.value, name, `${target.constructor.name}.${String(propertyKey)}`);
  };
}

/** The plain-function form of `@Binding`. */
export function binding(type: { prototype: object; name: string }, methodName: string, name: string): void {
  addMetadata((type.prototype as Record<string, unknown>)[methodName], name, `${type.name}.${methodName}`);
}

function addMetadata(method: unknown, name: string, where: string): void {
  if (typeof method !== 'function') throw new TypeError(`@Binding goes on a method; ${where} is not one`);
  const list: BindingMetadata = Reflect.getOwnMetadata(SIDEKICK_BINDING, method) ?? [];
  Reflect.defineMetadata(SIDEKICK_BINDING, [...list, name], method);
}
