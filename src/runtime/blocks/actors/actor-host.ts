import { ActorError, ActorMethodNotFoundError } from '../../../errors/actor.errors';
import { type ActorContext, bindActorContext } from './abstract-actor';

/** A reminder firing as the actor receives it (the registered texts, as Dapr sends them to an app). */
export interface ReminderFiring {
  readonly name: string;
  readonly data: unknown;
  readonly dueTime?: string;
  readonly period?: string;
}

/** A timer firing as the actor receives it. */
export interface TimerFiring {
  readonly name: string;
  readonly callback: string;
  readonly data: unknown;
  readonly dueTime?: string;
  readonly period?: string;
}

/** What a timer or reminder delivery may answer: `cancel` stops it (Dapr's `X-DaprReminderCancel`). */
export type FiringOutcome = 'done' | 'cancel';

/**
 * The code of one activation, as the runtime drives it inside the actor's turns: an `@Actor` class
 * instance in this process, or an actor of the app behind the sidecar (its `/actors/...` endpoints).
 * Turns, state saving, timers, reminders, idle deactivation and placement are the runtime's, the
 * same for both.
 */
export interface ActorInstance {
  /** The class instance (in-process actors), for benchmarks and tests. */
  readonly target?: object;
  /** Runs method `method`; its errors reach the caller. */
  invoke(method: string, args: readonly unknown[]): Promise<unknown>;
  /** Whether a timer may call `callback` back (checked when the timer is registered). */
  hasCallback(callback: string): boolean;
  timer(firing: TimerFiring): Promise<FiringOutcome>;
  reminder(firing: ReminderFiring): Promise<FiringOutcome>;
  /** Deactivation (idle, rebalancing, shutdown). */
  deactivate(): Promise<void>;
}

/** A registered actor type. */
export interface ActorTypeInfo {
  readonly type: string;
  /** The class name, or where the actors live, for messages. */
  readonly className: string;
  /** The methods callers may invoke; undefined: any (the app behind the sidecar decides). */
  readonly methods?: ReadonlySet<string>;
  readonly idleTimeoutMs: number;
  readonly reentrant: boolean;
  readonly maxStackDepth: number;
  /**
   * Rebalancing (placement): how long an actor moving away waits for its ongoing call before it is
   * deactivated anyway; undefined: until its turn comes (at most the turn timeout).
   */
  readonly drainMs?: number;
  /** `app`: hosted by the app behind the sidecar (method calls pass bytes through). */
  readonly host: 'in-process' | 'app';
  /** The code of a new activation (the runtime calls it inside the activation's first turn). */
  activate(context: ActorContext): Promise<ActorInstance>;
}

/**
 * A method call as bytes, for an actor of the app behind the sidecar: the caller's body, content type
 * and the headers to forward, passed through unchanged (the HTTP API's `/v1.0/actors/.../method/...`).
 */
export class RawActorCall {
  constructor(
    readonly body: Buffer,
    readonly contentType: string | undefined,
    readonly headers: Readonly<Record<string, string>> = {},
    /** The caller's query string, without `?` (forwarded as daprd does). */
    readonly query = '',
  ) {}
}

/** The app's answer to a {@link RawActorCall}, written back to the caller as it is. */
export class RawActorReply {
  constructor(
    readonly status: number,
    readonly headers: Readonly<Record<string, string | string[]>>,
    readonly body: Buffer,
  ) {}
}

/** An `@Actor` class in this process: a new instance per activation, created through the module's injector. */
export function classActorType(options: Omit<ActorTypeInfo, 'host' | 'activate'> & { create(): Promise<object> }): ActorTypeInfo {
  const { create, ...info } = options;
  return {
    ...info,
    host: 'in-process',
    activate: async (context) => {
      const instance = (await create()) as Record<string, unknown>;
      bindActorContext(instance, context);
      const hook = instance['onActivate'];
      if (typeof hook === 'function') await (hook as () => Promise<void>).call(instance);
      return new ClassActorInstance(info.type, info.className, info.methods ?? new Set(), instance);
    },
  };
}

class ClassActorInstance implements ActorInstance {
  constructor(
    private readonly type: string,
    private readonly className: string,
    private readonly methods: ReadonlySet<string>,
    readonly target: Record<string, unknown>,
  ) {}

  async invoke(method: string, args: readonly unknown[]): Promise<unknown> {
    const fn = this.target[method];
    if (typeof fn !== 'function') throw new ActorMethodNotFoundError(this.type, method, [...this.methods]);
    return (fn as (...a: readonly unknown[]) => unknown).apply(this.target, [...args]);
  }

  hasCallback(callback: string): boolean {
    return typeof this.target[callback] === 'function';
  }

  async timer(firing: TimerFiring): Promise<FiringOutcome> {
    await (this.target[firing.callback] as (data: unknown) => unknown).call(this.target, firing.data);
    return 'done';
  }

  async reminder(firing: ReminderFiring): Promise<FiringOutcome> {
    const fn = this.target['receiveReminder'];
    if (typeof fn !== 'function') {
      throw new ActorError(
        'ERR_ACTOR_INVOKE_METHOD',
        `actor type ${this.type} received a reminder but ${this.className} has no receiveReminder(name, data) method`,
      );
    }
    await (fn as (name: string, data: unknown) => unknown).call(this.target, firing.name, firing.data);
    return 'done';
  }

  async deactivate(): Promise<void> {
    const hook = this.target['onDeactivate'];
    if (typeof hook === 'function') await (hook as () => Promise<void>).call(this.target);
  }
}
