import type { Component, ComponentKind } from '../../spi/component';
import type { Readiness } from '../readiness';

/** The part of the component manager a lookup reads. */
export interface ComponentSource {
  /** Loaded components of a kind, in load order, as their users see them (wrapped by interceptors). */
  listInstances(kind: ComponentKind): readonly { readonly name: string; readonly instance: Component; readonly metadata: Readonly<Record<string, string>> }[];
  /** Why a component of this name is missing, when it failed to initialise and `spec.ignoreErrors` let the app start without it. */
  failure(name: string): string | undefined;
}

export interface FoundComponent<T> {
  readonly name: string;
  readonly component: T;
  /** The component's `spec.metadata` values (secret references unresolved), for runtime-level keys such as `keyPrefix`. */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Finds a loaded component of one kind and shape by name: the one piece every block uses instead of
 * its own "wait until started, look up, cast, or throw not found". `guard` checks the instance's
 * shape (also at init, where a component that does not implement its kind's SPI fails start-up), so
 * nothing casts after checking only the kind. Results are cached once the runtime is ready.
 */
export class ComponentLookup<T> {
  private readonly cache = new Map<string, FoundComponent<T>>();

  constructor(
    private readonly source: ComponentSource,
    private readonly kind: ComponentKind,
    private readonly guard: (component: Component, metadata: Readonly<Record<string, string>>) => boolean,
    private readonly notFound: (name: string, known: readonly string[]) => Error,
    private readonly readiness: Readiness,
  ) {}

  /** Names of the loaded components of this kind that pass the guard. */
  names(): string[] {
    return this.source
      .listInstances(this.kind)
      .filter((c) => this.guard(c.instance, c.metadata))
      .map((c) => c.name);
  }

  /** The component, or undefined. Only meaningful once the runtime is ready. */
  find(name: string): FoundComponent<T> | undefined {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const loaded = this.source.listInstances(this.kind).find((c) => c.name === name);
    if (!loaded || !this.guard(loaded.instance, loaded.metadata)) return undefined;
    const found = { name, component: loaded.instance as T, metadata: loaded.metadata };
    if (this.readiness.ready) this.cache.set(name, found);
    return found;
  }

  /** The component, or the block's not-found error listing the loaded ones. Requires the runtime to be ready. */
  get(name: string): FoundComponent<T> {
    const found = this.find(name);
    if (found) return found;
    const error = this.notFound(name, this.names());
    const failure = this.source.failure(name);
    if (failure) error.message += `; component "${name}" is configured but failed to initialise (spec.ignoreErrors is set): ${failure}`;
    throw error;
  }

  /**
   * The component once the runtime is ready (not-found error when missing), or `undefined` while
   * components are still loading: `lookup.now(name) ?? (await lookup.later(name))` keeps the hot
   * path free of an extra await.
   */
  now(name: string): FoundComponent<T> | undefined {
    return this.readiness.ready ? this.get(name) : undefined;
  }

  /** The component after start-up finished (a call made while components load waits for them). */
  async later(name: string): Promise<FoundComponent<T>> {
    await this.readiness.promise;
    return this.get(name);
  }
}
