import { ConfigError } from '../../../errors/config.errors';
import type { ActorStateManager } from './state-manager';

/** A timer's or reminder's schedule: `dueTime` and `ttl` as Go/ISO 8601 durations or RFC 3339 times, `period` as a Go/ISO 8601 duration (`R5/PT1S`: 5 times). */
export interface ActorScheduleOptions<D = unknown> {
  readonly dueTime?: string;
  readonly period?: string;
  readonly ttl?: string;
  readonly data?: D;
}

/** A reminder as stored. */
export interface ActorReminderInfo {
  readonly actorType: string;
  readonly actorId: string;
  readonly name: string;
  readonly dueTime?: string;
  readonly period?: string;
  readonly ttl?: string;
  readonly data?: unknown;
}

/** What the runtime gives each actor instance. */
export interface ActorContext {
  readonly type: string;
  readonly id: string;
  readonly state: ActorStateManager;
  registerTimer(name: string, callback: string, options: ActorScheduleOptions): void;
  unregisterTimer(name: string): void;
  registerReminder(name: string, options: ActorScheduleOptions, overwrite?: boolean): Promise<void>;
  unregisterReminder(name: string): Promise<void>;
  getReminder(name: string): Promise<ActorReminderInfo | undefined>;
}

const CONTEXT = Symbol('sidekick.actor.context');

/** Gives an actor instance its context (the runtime calls it once, right after creating the instance). */
export function bindActorContext(instance: object, context: ActorContext): void {
  Object.defineProperty(instance, CONTEXT, { value: context, enumerable: false });
}

/**
 * The base class of actors: the id, the state manager, timers and reminders. Lifecycle hooks
 * `onActivate` / `onDeactivate` run inside a turn; reminders call `receiveReminder(name, data)`.
 * Every other method on the class is an actor method (names starting with `_` excepted).
 */
export abstract class AbstractActor {
  private get context(): ActorContext {
    const context = (this as unknown as Record<symbol, ActorContext | undefined>)[CONTEXT];
    if (!context) {
      throw new ConfigError(
        `${this.constructor.name} is used outside the actor runtime: actors are created by Sidekick per id (call them through SidekickClient.actors)`,
      );
    }
    return context;
  }

  /** This actor's id. */
  get actorId(): string {
    return this.context.id;
  }

  /** This actor's type (the `@Actor` type). */
  get actorType(): string {
    return this.context.type;
  }

  /** This actor's state: cached for its life, saved as one transaction at the end of each turn. */
  get state(): ActorStateManager {
    return this.context.state;
  }

  /** Calls `this[callback](data)` on a schedule, in turns like any call; timers end when the actor deactivates. */
  protected registerTimer(name: string, callback: string, options: ActorScheduleOptions = {}): void {
    this.context.registerTimer(name, callback, options);
  }

  protected unregisterTimer(name: string): void {
    this.context.unregisterTimer(name);
  }

  /** A durable schedule calling `receiveReminder(name, data)`: survives deactivation and restarts. */
  protected registerReminder(name: string, options: ActorScheduleOptions = {}): Promise<void> {
    return this.context.registerReminder(name, options);
  }

  protected unregisterReminder(name: string): Promise<void> {
    return this.context.unregisterReminder(name);
  }

  protected getReminder(name: string): Promise<ActorReminderInfo | undefined> {
    return this.context.getReminder(name);
  }

  /** Runs when the actor activates (before its first call), inside that turn. */
  async onActivate(): Promise<void> {}

  /** Runs when the actor deactivates (idle, or shutdown), inside a turn. */
  async onDeactivate(): Promise<void> {}
}

/** Names the runtime calls itself and callers may not invoke. */
export const LIFECYCLE_METHODS: ReadonlySet<string> = new Set(['constructor', 'onActivate', 'onDeactivate', 'receiveReminder']);

/** The actor methods of a class: functions on its prototype chain below AbstractActor/Object, except hooks and `_names`. */
export function actorMethodNames(type: { prototype: object }): string[] {
  const names = new Set<string>();
  let proto: object | null = type.prototype;
  while (proto && proto !== AbstractActor.prototype && proto !== Object.prototype) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (!descriptor || typeof descriptor.value !== 'function' || LIFECYCLE_METHODS.has(name) || name.startsWith('_')) continue;
      names.add(name);
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return [...names];
}
