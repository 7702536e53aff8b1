import { Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModuleRef } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { ConfigError } from '../../errors/config.errors';

/** A method carrying a metadata key, with where it is. */
export interface DiscoveredMethod<T> {
  readonly instance: object;
  readonly methodName: string;
  /** `OrderHandler.onOrder`. */
  readonly name: string;
  /** The metadata value stored under the key on the method. */
  readonly metadata: T;
}

/** A provider or controller class carrying a metadata key on the class itself. */
export interface DiscoveredClass<T> {
  /** The class (blocks that create instances per id, such as actors, instantiate it through Nest). */
  readonly metatype: abstract new (...args: never[]) => unknown;
  readonly name: string;
  /** The singleton instance, when the provider is a singleton. */
  readonly instance?: object;
  readonly metadata: T;
  /**
   * A new instance, created by the injector of the module that declares the class (its constructor
   * dependencies resolved there, `ModuleRef.create`): for blocks that need one instance per id.
   */
  create(): Promise<object>;
}

/** What discovery found, read by key: a new decorator adds no branch here. */
export interface Discovery {
  /**
   * Every singleton provider/controller method with metadata `key` (one record per method; two names
   * for one function count once). `decorator` names the key in errors (`@Subscribe`).
   */
  methodsWith<T>(key: string | symbol, decorator?: string): readonly DiscoveredMethod<T>[];
  /** Every provider/controller class with metadata `key` on the class (once per class). */
  classesWith<T>(key: string | symbol): readonly DiscoveredClass<T>[];
}

interface Host {
  readonly wrapper: InstanceWrapper;
  readonly instance?: object;
}

/**
 * Walks the app's providers and controllers (DiscoveryService) and their methods (MetadataScanner)
 * once, at module init, and answers `methodsWith`/`classesWith` from that walk. Handlers on
 * request-scoped or transient providers cannot receive events: asking for a method key that such a
 * provider carries fails start-up naming it.
 */
@Injectable()
export class SidekickExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  explore(): Discovery {
    const hosts = this.hosts();
    const methods = new Map<object, { prototype: object; names: readonly string[] }>();
    const methodNames = (prototype: object): readonly string[] => {
      let found = methods.get(prototype);
      if (!found) {
        found = { prototype, names: this.scanner.getAllMethodNames(prototype) };
        methods.set(prototype, found);
      }
      return found.names;
    };
    return {
      methodsWith: <T>(key: string | symbol, decorator = 'a Sidekick handler decorator'): readonly DiscoveredMethod<T>[] => {
        const out: DiscoveredMethod<T>[] = [];
        for (const host of hosts) {
          const seenFunctions = new Set<unknown>(); // two names for one function (an alias) are one handler
          const type = host.wrapper.metatype;
          const prototype = host.instance
            ? (Object.getPrototypeOf(host.instance) as object)
            : typeof type === 'function'
              ? (type.prototype as object | undefined)
              : undefined;
          if (!prototype) continue;
          for (const methodName of methodNames(prototype)) {
            const method = (prototype as Record<string, unknown>)[methodName];
            if (typeof method !== 'function' || seenFunctions.has(method)) continue;
            const metadata: T | undefined = Reflect.getMetadata(key, method);
            if (metadata === undefined) continue;
            seenFunctions.add(method);
            const className = host.instance ? host.instance.constructor.name : (type as { name: string }).name;
            if (!host.instance) {
              throw new ConfigError(
                `${className}.${methodName} has ${decorator} but ${className} is request-scoped or transient; handlers must live in singleton providers (the default scope)`,
              );
            }
            out.push({ instance: host.instance, methodName, name: `${className}.${methodName}`, metadata });
          }
        }
        return out;
      },
      classesWith: <T>(key: string | symbol): readonly DiscoveredClass<T>[] => {
        const out: DiscoveredClass<T>[] = [];
        const seen = new Set<unknown>();
        for (const wrapper of this.wrappers()) {
          const type = wrapper.metatype;
          const instance = usableInstance(wrapper);
          if (typeof type !== 'function' || seen.has(type)) continue;
          seen.add(type);
          const metadata: T | undefined = Reflect.getMetadata(key, type);
          if (metadata === undefined) continue;
          const moduleRef = wrapper.host?.getProviderByKey<ModuleRef>(ModuleRef)?.instance;
          const create = async (): Promise<object> => {
            if (!moduleRef) throw new ConfigError(`${type.name} is not declared in a module: list it in a module's providers`);
            return moduleRef.create(type as new (...args: unknown[]) => object);
          };
          out.push({ metatype: type as DiscoveredClass<T>['metatype'], name: type.name, instance, metadata, create });
        }
        return out;
      },
    };
  }

  /** Singleton instances once each, and non-singleton providers (instance undefined) once per class. */
  private hosts(): Host[] {
    const out: Host[] = [];
    const seenInstances = new Set<unknown>();
    const seenTypes = new Set<unknown>();
    for (const wrapper of this.wrappers()) {
      const instance = usableInstance(wrapper);
      if (instance) {
        if (seenInstances.has(instance)) continue;
        seenInstances.add(instance);
        out.push({ wrapper, instance });
      } else if (typeof wrapper.metatype === 'function' && !seenTypes.has(wrapper.metatype)) {
        seenTypes.add(wrapper.metatype);
        out.push({ wrapper });
      }
    }
    return out;
  }

  private wrappers(): InstanceWrapper[] {
    return [...this.discovery.getProviders(), ...this.discovery.getControllers()];
  }
}

/** Singleton instances only: request-scoped providers cannot receive events. */
function usableInstance(wrapper: InstanceWrapper): object | undefined {
  if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) return undefined;
  const instance: unknown = wrapper.instance;
  return typeof instance === 'object' && instance !== null ? instance : undefined;
}
