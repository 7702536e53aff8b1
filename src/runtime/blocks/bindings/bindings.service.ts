import { ConfigError } from '../../../errors/config.errors';
import { errorMessage, SidekickError } from '../../../errors/sidekick.error';
import type { BindingEvent, BindingResponse, InputBinding, InputBindingHandle, OutputBinding } from '../../../spi/binding';
import type { SidekickLogger } from '../../../spi/logger';
import type { ComponentLookup } from '../../components/component.lookup';
import type { DiscoveredMethod } from '../../discovery/sidekick.explorer';
import type { Interception } from '../../interception/interception';
import { withIncomingTraceContext } from '../../interception/trace-context';
import type { AppForwarder } from '../invoke/invoke.service';
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
      const method = (found.instance as Record<string, unknown>)[found.methodName] as (input: BindingInput) => unknown;
      const deliver = async (event: BindingEvent): Promise<Buffer | undefined> => {
        const reply = await method.call(found.instance, { data: decode(event.data), bytes: event.data, metadata: event.metadata });
        return reply === undefined ? undefined : encode(reply);
      };
      await this.read(found.binding, found.name, deliver);
    }
    for (const name of this.names('input')) {
      if (!this.handlers.some((h) => h.binding === name)) this.logger.info({ binding: name }, 'input binding has no @Binding handler: not read');
    }
  }

  /**
   * Sidecar mode, as daprd: each input binding without a `@Binding` handler is offered to the app's
   * route `/{name}`. An `OPTIONS /{name}` answered with anything but 404 means the app has the route;
   * events are then POSTed to it (the event's metadata as headers). A 2xx answer acknowledges the
   * event, any other status (or no answer) fails it, so the binding delivers it again where it can.
   */
  async startAppRoutes(app: AppForwarder): Promise<void> {
    for (const name of this.names('input')) {
      if (this.handlers.some((h) => h.binding === name)) continue;
      let probe: number;
      try {
        probe = (await app.forward({ method: 'OPTIONS', url: `/${name}`, headers: {} })).status;
      } catch (err) {
        this.logger.warn({ binding: name, err: errorMessage(err) }, `OPTIONS /${name} failed: input binding not read`);
        continue;
      }
      if (probe === 404) {
        this.logger.info({ binding: name }, `the app has no route /${name} (OPTIONS answered 404): input binding not read`);
        continue;
      }
      const deliver = async (event: BindingEvent): Promise<Buffer | undefined> => {
        // An unhealthy app (periodic health checks): the event waits for it to recover, which holds the binding's reader.
        const admitted = app.admit?.(true);
        if (admitted) await admitted;
        const res = await app.forward({
          method: 'POST',
          url: `/${name}`,
          headers: { 'content-type': 'application/json', ...headerSafe(event.metadata) },
          body: event.data,
        });
        if (res.status < 200 || res.status >= 300) throw new SidekickError('ERR_BACKEND', `POST /${name} answered ${res.status}`, { component: name });
        return res.body.length > 0 ? res.body : undefined;
      };
      await this.read(name, `POST /${name}`, deliver);
    }
  }

  private async read(name: string, handlerName: string, deliver: (event: BindingEvent) => Promise<Buffer | undefined>): Promise<void> {
    const binding = this.inputs.find(name)?.component;
    if (!binding) return;
    const call = { kind: 'delivery' as const, target: name, type: 'bindings', operation: handlerName, attributes: { binding: name } };
    // A delivery continues the trace its event carries (e.g. a `traceparent` Kafka header), if any.
    const intercepted = (event: BindingEvent): Promise<Buffer | undefined> =>
      withIncomingTraceContext(event.metadata, () => this.interception.run(call, () => deliver(event)), true);
    const handle = await binding.read(this.interception.active('delivery') ? intercepted : deliver);
    this.handles.push({ name, handle });
    this.logger.info({ binding: name, handler: handlerName }, 'reading input binding');
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

/** Metadata that can travel as HTTP headers (token names, values without control characters). */
function headerSafe(metadata: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) && !/[\0-\x1f\x7f]/.test(v)) out[k] = v;
  return out;
}
