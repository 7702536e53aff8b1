import { ConfigError } from '../errors/config.errors';
import { SIDEKICK_WITH_LOCK, SIDEKICK_WITH_LOCK_RUNNER } from './constants';

/** The lock resource: a fixed id, or computed from the method's arguments. */
export type LockResource = string | ((...args: never[]) => string);

export interface WithLockDecoratorOptions {
  /** Lease length in seconds (default 60): the lock frees itself after it, even if the process dies. */
  readonly expiryInSeconds?: number;
  /** Keep trying this long (ms) while the lock is held; default 0: fail fast with `LockHeldError`. */
  readonly waitMs?: number;
  /** Between tries while waiting (ms, default 100). */
  readonly retryIntervalMs?: number;
}

/** What `@WithLock` stores on its method. */
export interface WithLockMetadata {
  readonly store: string;
  readonly resource: LockResource;
  readonly options: WithLockDecoratorOptions;
}

/** Runs a guarded call: what the lock block attaches to instances (LockService.withLock). */
export type WithLockRunner = (store: string, resourceId: string, fn: () => Promise<unknown>, options: WithLockDecoratorOptions) => Promise<unknown>;

/**
 * Runs the method holding a distributed lock of lock store `store` on `resource` (a string, or a
 * function of the method's arguments), and unlocks after it returns or throws. When the lock is held
 * by another owner the call fails fast with `LockHeldError` (code `ERR_LOCK_HELD`, httpStatus 409),
 * unless `waitMs` allows retrying. Each call uses its own owner token, so two calls of one process
 * exclude each other too. The method becomes async. It must be on a singleton provider or controller
 * of an app that imports `SidekickModule` (the lock block wires it at start-up; a call before that fails).
 * Plain-function form: {@link withLock}. Needs the fencing token? Use `SidekickClient.lock.withLock`.
 */
export function WithLock(store: string, resource: LockResource, options: WithLockDecoratorOptions = {}): MethodDecorator {
  validate(store, resource, options);
  return (target, propertyKey, descriptor) => {
    const where = `${target.constructor.name}.${String(propertyKey)}`;
    descriptor.value = guarded(descriptor.value, { store, resource, options }, where) as typeof descriptor.value;
    return descriptor;
  };
}

/** The plain-function form of `@WithLock`. */
export function withLock(
  type: { prototype: object; name: string },
  methodName: string,
  store: string,
  resource: LockResource,
  options: WithLockDecoratorOptions = {},
): void {
  validate(store, resource, options);
  const proto = type.prototype as Record<string, unknown>;
  proto[methodName] = guarded(proto[methodName], { store, resource, options }, `${type.name}.${methodName}`);
}

function guarded(method: unknown, metadata: WithLockMetadata, where: string): (...args: unknown[]) => Promise<unknown> {
  if (typeof method !== 'function') throw new TypeError(`@WithLock goes on a method; ${where} is not one`);
  if (Reflect.getOwnMetadata(SIDEKICK_WITH_LOCK, method) !== undefined) throw new TypeError(`@WithLock is applied twice on ${where}`);
  const original = method as (...args: unknown[]) => unknown;
  const wrapper = async function (this: object, ...args: unknown[]): Promise<unknown> {
    const runner: WithLockRunner | undefined = Reflect.getMetadata(SIDEKICK_WITH_LOCK_RUNNER, this);
    if (!runner) {
      throw new ConfigError(
        `@WithLock on ${where}: this instance was not wired by Sidekick (the method must be on a singleton provider or controller of an app that imports SidekickModule, called after start-up)`,
      );
    }
    const resourceId = typeof metadata.resource === 'function' ? (metadata.resource as (...a: unknown[]) => string)(...args) : metadata.resource;
    return runner(metadata.store, resourceId, async () => original.apply(this, args), metadata.options);
  };
  // Keep what other decorators (Nest's @Post, @Subscribe, ...) stored on the method, whatever the order.
  for (const key of Reflect.getOwnMetadataKeys(original)) Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), wrapper);
  Reflect.defineMetadata(SIDEKICK_WITH_LOCK, metadata, wrapper);
  Object.defineProperty(wrapper, 'name', { value: original.name });
  return wrapper;
}

function validate(store: string, resource: LockResource, options: WithLockDecoratorOptions): void {
  if (typeof store !== 'string' || store === '') throw new TypeError('@WithLock(store, resource) needs the lock store component name');
  if (typeof resource !== 'function' && (typeof resource !== 'string' || resource === '')) {
    throw new TypeError('@WithLock(store, resource): resource must be a non-empty string or a function of the arguments returning one');
  }
  const { expiryInSeconds, waitMs } = options;
  if (expiryInSeconds !== undefined && (!Number.isSafeInteger(expiryInSeconds) || expiryInSeconds <= 0)) {
    throw new TypeError(`@WithLock: expiryInSeconds must be a positive whole number, got ${expiryInSeconds}`);
  }
  if (waitMs !== undefined && !(waitMs >= 0)) throw new TypeError(`@WithLock: waitMs must be >= 0, got ${waitMs}`);
}
