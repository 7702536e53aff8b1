import type {
  BindingHandler,
  BindingRequest,
  BindingResponse,
  ComponentFactory,
  ComponentInit,
  InputBinding,
  InputBindingHandle,
  OutputBinding,
} from '../../src/spi';

/** A loop-back binding for runtime tests: `create` feeds the input side; a rejected event is delivered again. */
export class LoopBinding implements InputBinding, OutputBinding {
  readonly operations = ['create', 'echo'];
  private handler?: BindingHandler;
  readonly replies: (Buffer | undefined)[] = [];
  redeliveries = 0;

  async init(_init: ComponentInit): Promise<void> {}
  async close(): Promise<void> {}

  async read(handler: BindingHandler): Promise<InputBindingHandle> {
    this.handler = handler;
    return { close: async () => void (this.handler = undefined) };
  }

  async invoke(request: BindingRequest): Promise<BindingResponse> {
    if (request.operation === 'echo') return { data: request.data, metadata: { op: 'echo', ...request.metadata } };
    void this.deliver({ data: request.data, metadata: request.metadata });
    return {};
  }

  private async deliver(event: { data: Buffer; metadata: Readonly<Record<string, string>> }): Promise<void> {
    for (;;) {
      if (!this.handler) return;
      try {
        this.replies.push(await this.handler(event));
        return;
      } catch {
        this.redeliveries += 1;
      }
    }
  }
}

export const loopFactory: ComponentFactory<LoopBinding> = { type: 'bindings.test-loop', kind: 'bindings', versions: ['v1'], create: () => new LoopBinding() };
