import type { Component, ComponentKind } from '../../spi/component';
import type { CallInfo, CallKind, Interceptor } from '../../spi/interceptor';

/** The SPI methods of each component kind that count as component calls. */
const COMPONENT_METHODS: Partial<Record<ComponentKind, readonly string[]>> = {
  state: ['get', 'bulkGet', 'set', 'delete', 'transact', 'query'],
  pubsub: ['publish', 'bulkPublish', 'subscribe'],
  bindings: ['invoke', 'read'],
  secretstores: ['getSecret', 'bulkGetSecret'],
  configuration: ['get', 'subscribe', 'unsubscribe'],
  lock: ['tryLock', 'unlock'],
};

/**
 * Facts read from a component call's arguments, by `kind.method`: the topic of a publish and the
 * operation of an output binding (metric labels and span attributes need them; nothing else is read).
 */
const CALL_ATTRIBUTES: Readonly<Record<string, { readonly field: string; readonly read: (args: readonly unknown[]) => string | undefined }>> = {
  'pubsub.publish': { field: 'topic', read: (args) => stringField(args[0], 'topic') },
  'pubsub.bulkPublish': { field: 'topic', read: (args) => stringField(Array.isArray(args[0]) ? (args[0] as unknown[])[0] : undefined, 'topic') },
  'bindings.invoke': { field: 'operation', read: (args) => stringField(args[0], 'operation') },
};

/** Distinct attribute values (topics, operations) per wrapped method whose `CallInfo` is kept; past it one is made per call. */
const MAX_CALLS_PER_METHOD = 1_000;

function stringField(value: unknown, field: string): string | undefined {
  const found = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[field] : undefined;
  return typeof found === 'string' ? found : undefined;
}

/**
 * Runs calls through the installed interceptors (see src/spi/interceptor.ts for the contract).
 * `active` is false when none is installed: callers test it once, at wiring time, and keep their
 * plain path.
 */
export class Interception {
  private readonly byKind = new Map<CallKind, readonly Interceptor[]>();
  private all: readonly Interceptor[];
  private locked = false;

  constructor(interceptors: readonly Interceptor[]) {
    this.all = interceptors;
    this.index();
  }

  /**
   * Adds interceptors outside the ones already installed (the first of `outer` outermost). Only
   * while the runtime wires itself (module init, before components initialise): blocks that bring
   * cross-cutting concerns (tracing, metrics, resiliency) contribute theirs once the app's
   * Configuration is read. Throws once locked, since components are wrapped by then.
   */
  installOuter(outer: readonly Interceptor[]): void {
    if (this.locked) throw new Error('interceptors can only be installed while the runtime starts (before components initialise)');
    this.all = [...outer, ...this.all];
    this.index();
  }

  /** No more interceptors: components are about to be wrapped. */
  lock(): void {
    this.locked = true;
  }

  /** The installed interceptors, outermost first. */
  get installed(): readonly Interceptor[] {
    return this.all;
  }

  private index(): void {
    this.byKind.clear();
    for (const kind of ['component', 'delivery', 'api', 'invoke'] as const) {
      const list = this.all.filter((i) => !i.kinds || i.kinds.includes(kind));
      if (list.length > 0) this.byKind.set(kind, list);
    }
  }

  /** True when at least one interceptor sees calls of `kind` (or of any kind). */
  active(kind?: CallKind): boolean {
    return kind === undefined ? this.byKind.size > 0 : this.byKind.has(kind);
  }

  /** Runs `fn` inside the interceptors of `call.kind`, the first installed outermost. */
  run<T>(call: CallInfo, fn: () => Promise<T>): Promise<T> {
    const chain = this.byKind.get(call.kind);
    if (!chain) return fn();
    if (chain.length === 1) return (chain[0] as Interceptor).intercept(call, fn);
    const step = (i: number): Promise<T> => {
      const interceptor = chain[i];
      if (!interceptor) return fn();
      return interceptor.intercept(call, () => step(i + 1));
    };
    return step(0);
  }

  /**
   * The component as its users see it: the instance itself when no interceptor watches component
   * calls, else an object whose prototype is the instance and whose SPI methods run through the
   * interceptors (fields such as `features` and `operations` read through to the instance).
   */
  wrapComponent<T extends Component>(instance: T, name: string, type: string, kind: ComponentKind): T {
    if (!this.active('component')) return instance;
    const methods = COMPONENT_METHODS[kind] ?? [];
    const wrapper = Object.create(instance) as Record<string, unknown>;
    for (const method of methods) {
      const original = (instance as unknown as Record<string, unknown>)[method];
      if (typeof original !== 'function') continue;
      const call: CallInfo = { kind: 'component', target: name, type, operation: method };
      const attributes = CALL_ATTRIBUTES[`${kind}.${method}`];
      if (!attributes) {
        wrapper[method] = (...args: unknown[]): Promise<unknown> => this.run(call, () => Promise.resolve(original.apply(instance, args)));
        continue;
      }
      // One CallInfo per topic (operation): interceptors keep their per-call-site work (span plans,
      // bound metric labels) by CallInfo, so a publish to a known topic finds it without building keys.
      const calls = new Map<string, CallInfo>();
      const callFor = (args: readonly unknown[]): CallInfo => {
        const value = attributes.read(args);
        if (value === undefined) return call;
        let found = calls.get(value);
        if (!found) {
          found = { ...call, attributes: { [attributes.field]: value } };
          if (calls.size < MAX_CALLS_PER_METHOD) calls.set(value, found);
        }
        return found;
      };
      wrapper[method] = (...args: unknown[]): Promise<unknown> => this.run(callFor(args), () => Promise.resolve(original.apply(instance, args)));
    }
    return wrapper as unknown as T;
  }
}

/** No interceptors: what the runtime uses when none is configured. */
export const NO_INTERCEPTION = new Interception([]);
