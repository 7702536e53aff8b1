import { ConfigError } from '../../../errors/config.errors';
import { errorMessage, SidekickError } from '../../../errors/sidekick.error';
import type { BindingEvent, BindingResponse, InputBinding, InputBindingHandle, OutputBinding } from '../../../spi/binding';
import type { SidekickLogger } from '../../../spi/logger';
import type { ComponentLookup } from '../../components/component.lookup';
import type { DiscoveredMethod } from '../../discovery/sidekick.explorer';
import type { Interception } from '../../interception/interception';
import { withIncomingTraceContext } from '../../interception/trace-context';
import { NameRegistry } from '../../registry/name.registry';
import { decodeJsonOrText as decode, encodeJson as encode } from '../../../spi/codec';

/** What a `@Binding` method receives. */
export interface BindingInput<T = unknown> {
  /** The event's bytes parsed as JSON when they are JSON, else text. */
  readonly data: T;
  readonly bytes: Buffer;
  readonly metadata: Readonly<Record<string, string>>;
}

/** One `@Binding(name)` handler. */
export interface DiscoveredBinding {
  readonly instance: object;
  readonly methodName: string;
  readonly name: string;
  readonly binding: string;
}

/** The bindings building block: output operations, and input events delivered to `@Binding` methods. */
export class BindingsService {
  private handles: { name: string; handle: InputBindingHandle }[] = [];
  private handlers: DiscoveredBinding[] = [];

  constructor(
    private readonly inputs: ComponentLookup<InputBinding>,
    private readonly outputs: ComponentLookup<OutputBinding>,
    private readonly logger: SidekickLogger,
    private readonly interception: Interception,
  ) {}

  /** Calls an output binding. `data` is sent as given (bytes), JSON-encoded, or empty when undefined. */
  async invoke(name: string, operation: string, data: unknown, metadata: Readonly<Record<string, string>> = {}): Promise<BindingResponse> {
    const binding = (this.outputs.now(name) ?? (await this.outputs.later(name))).component;
    if (!operation) throw new SidekickError('ERR_INVOKE_OUTPUT_BINDING', `operation field is missing from request to binding ${name}`);
    if (!binding.operations.includes(operation)) {
      throw new SidekickError(
        'ERR_INVOKE_OUTPUT_BINDING',
        `binding ${name} does not support operation ${operation}; supported: ${binding.operations.join(', ')}`,
        { component: name },
      );
    }
    // No data is empty data (as daprd sends it), not the JSON `null`.
    const bytes = data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(data) ? data : encode(data);
    return binding.invoke({ operation, data: bytes, metadata });
  }

  names(direction: 'input' | 'output'): string[] {
    return direction === 'input' ? this.inputs.names() : this.outputs.names();
  }

  /** The `@Binding` handlers, once prepared. */
  handlerList(): readonly DiscoveredBinding[] {
    return this.handlers;
  }

  /** Validates the `@Binding` handlers (each names a loaded input binding, one handler per binding). */
  prepare(methods: readonly DiscoveredMethod<readonly string[]>[]): void {
    const discovered = methods.flatMap((m) =>
      m.metadata.map((binding): DiscoveredBinding => ({ instance: m.instance, methodName: m.methodName, name: m.name, binding })),
    );
    const registry = new NameRegistry<DiscoveredBinding>('@Binding handler for binding');
    for (const found of discovered) {
      if (!this.inputs.find(found.binding)) {
        throw new ConfigError(
          `@Binding("${found.binding}") on ${found.name} names no loaded input binding; input bindings: ${this.names('input').join(', ') || 'none'}`,
        );
      }
      registry.register(found.binding, found, found.name);
    }
    this.handlers = registry.values();
  }

  async start(): Promise<void> {
    for (const found of this.handlers) {
      const binding = this.inputs.find(found.binding)?.component;
      if (!binding) continue;
      const method = (found.instance as Record<string, unknown>)[found.methodName] as (input: BindingInput) => unknown;
      const deliver = async (event: BindingEvent): Promise<Buffer | undefined> => {
        const reply = await method.call(found.instance, { data: decode(event.data), bytes: event.data, metadata: event.metadata });
        return reply === undefined ? undefined : encode(reply);
      };
      const call = { kind: 'delivery' as const, target: found.binding, type: 'bindings', operation: found.name, attributes: { binding: found.binding } };
      // A delivery continues the trace its event carries (e.g. a `traceparent` Kafka header), if any.
      const intercepted = (event: BindingEvent): Promise<Buffer | undefined> =>
        withIncomingTraceContext(event.metadata, () => this.interception.run(call, () => deliver(event)), true);
      const handle = await binding.read(this.interception.active('delivery') ? intercepted : deliver);
      this.handles.push({ name: found.binding, handle });
      this.logger.info({ binding: found.binding, handler: found.name }, 'reading input binding');
    }
    for (const name of this.names('input')) {
      if (!this.handlers.some((h) => h.binding === name)) this.logger.info({ binding: name }, 'input binding has no @Binding handler: not read');
    }
  }

  /** Stop reading; in-flight handlers finish. */
  async stop(): Promise<void> {
    const results = await Promise.allSettled(this.handles.map((h) => h.handle.close()));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.logger.error({ binding: this.handles[i]?.name, err: errorMessage(r.reason) }, 'input binding failed to stop cleanly');
    });
    this.handles = [];
  }
}
