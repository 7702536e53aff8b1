import { BackendError } from '../../src/errors';
import type { BindingRequest, BindingResponse, ComponentFactory, ComponentInit, OutputBinding } from '../../src/spi';

/** An output binding whose `invoke` fails the next `failures` times (a flaky target for resiliency tests). */
export class FlakyBinding implements OutputBinding {
  readonly operations = ['create'];
  static failures = 0;
  static calls = 0;

  async init(_init: ComponentInit): Promise<void> {}
  async close(): Promise<void> {}

  async invoke(request: BindingRequest): Promise<BindingResponse> {
    FlakyBinding.calls += 1;
    if (FlakyBinding.failures > 0) {
      FlakyBinding.failures -= 1;
      throw new BackendError('flakybinding', 'the flaky binding failed on purpose');
    }
    return { data: request.data };
  }
}

export const flakyBindingFactory: ComponentFactory<FlakyBinding> = {
  type: 'bindings.test-flaky',
  kind: 'bindings',
  versions: ['v1'],
  create: () => new FlakyBinding(),
};
