import type { ActorMetadata } from '../../../decorators/actor.decorator';
import { SIDEKICK_ACTOR } from '../../../decorators/constants';
import type { AbstractActor } from './abstract-actor';
import type { ActorsService } from './actors.service';

type MethodKeys<T> = { [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T];

/** The callable face of an actor class: each actor method, returning a promise of its result. */
export type ActorProxy<T> = {
  readonly [K in Exclude<MethodKeys<T>, keyof AbstractActor | 'receiveReminder'>]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** An `@Actor` class. */
export type ActorClass<T> = abstract new (...args: never[]) => T;

/** Calls actors: a typed proxy per id, or by name. In-process calls take the same path as the HTTP API's. */
export class ActorsClient {
  constructor(private readonly service: ActorsService) {}

  /** `actors.proxy(BankAccount, 'acc-1').deposit(10)`: argument and result types come from the class. */
  proxy<T>(type: ActorClass<T>, id: string): ActorProxy<T> {
    const metadata = Reflect.getMetadata(SIDEKICK_ACTOR, type) as ActorMetadata | undefined;
    if (!metadata) throw new TypeError(`${type.name} is not an actor class: decorate it with @Actor()`);
    if (typeof id !== 'string' || id === '') throw new TypeError(`actors.proxy(${type.name}, id): the id must be a non-empty string`);
    const service = this.service;
    const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
    return new Proxy({} as ActorProxy<T>, {
      get(_target, property) {
        if (typeof property !== 'string' || property === 'then') return undefined;
        let fn = methods.get(property);
        if (!fn) {
          fn = (...args: unknown[]) => service.invoke(metadata.type, id, property, args);
          methods.set(property, fn);
        }
        return fn;
      },
    });
  }

  /** Calls `method` of actor `type`/`id` with `data` as its one argument (none when undefined). */
  invoke<R = unknown>(type: string, id: string, method: string, data?: unknown): Promise<R> {
    return this.service.invoke(type, id, method, data === undefined ? [] : [data]) as Promise<R>;
  }
}
