import { Injectable, Scope } from '@nestjs/common';
import { SIDEKICK_ACTOR } from './constants';

export interface ActorReentrancyOptions {
  /** Let a call chain re-enter an actor it is already inside (default false, as in Dapr). */
  readonly enabled?: boolean;
  /** Most nested calls of one chain (default 32, Dapr's). */
  readonly maxStackDepth?: number;
}

export interface ActorOptions {
  /** The actor type callers name (default: the class name, which is what `@dapr/dapr`'s ActorProxyBuilder sends). */
  readonly type?: string;
  /**
   * How long an actor may stay idle before it is deactivated: ms, or a Go/ISO 8601 duration such as
   * `"30m"` or `"PT30M"` (default 60 minutes, Dapr's `actorIdleTimeout`).
   */
  readonly idleTimeout?: number | string;
  readonly reentrancy?: ActorReentrancyOptions;
}

/** What `@Actor` stores on the class. */
export interface ActorMetadata extends ActorOptions {
  readonly type: string;
}

/**
 * Makes a class a virtual actor type: its public methods are actor methods, called one at a time per
 * actor id. Instances are created by Nest's injector (constructor injection works), one per active
 * id; list the class in a module's `providers`. Extend `AbstractActor` for the id, the state manager,
 * timers and reminders. Plain-function form: {@link actor}.
 */
export function Actor(options: ActorOptions = {}): ClassDecorator {
  return (target) => {
    actor(target as unknown as abstract new (...args: never[]) => unknown, options);
  };
}

/** The plain-function form of `@Actor`: `actor(BankAccount, { type: 'BankAccount' })`. */
export function actor(type: abstract new (...args: never[]) => unknown, options: ActorOptions = {}): void {
  const name = options.type ?? type.name;
  if (typeof name !== 'string' || name === '') throw new TypeError('@Actor needs a type name (the class has none): @Actor({ type: "MyActor" })');
  if (/[/\\#?\u0000-\u001f]/.test(name) || name === '.' || name === '..') {
    throw new TypeError(`@Actor type "${name}" may not contain / \\ # ? or control characters`);
  }
  if (name.startsWith('dapr.internal.')) throw new TypeError(`@Actor type "${name}": types starting with "dapr.internal." are reserved (workflow actors)`);
  const depth = options.reentrancy?.maxStackDepth;
  if (depth !== undefined && (!Number.isInteger(depth) || depth < 1)) {
    throw new TypeError(`@Actor({ type: "${name}" }): reentrancy.maxStackDepth must be a whole number of at least 1, got ${String(depth)}`);
  }
  // A new instance per actor id, created through the module's injector: never a shared singleton.
  Injectable({ scope: Scope.TRANSIENT })(type as unknown as new (...args: unknown[]) => unknown);
  const metadata: ActorMetadata = { ...options, type: name };
  Reflect.defineMetadata(SIDEKICK_ACTOR, metadata, type);
}
