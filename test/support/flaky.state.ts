import { MemoryStateStore } from '../../libs/memory';
import { BackendError } from '../../src/errors';
import type { ComponentFactory, ComponentInit, GetResponse } from '../../src/spi';

/** How a flaky store behaves, shared by the test and the instance of that component name. */
export interface FlakyControl {
  /** The next `failures` gets fail (a retryable backend error). */
  failures: number;
  /** Each get waits this long first (real time). */
  delayMs: number;
  /** Gets that reached the store. */
  calls: number;
}

/** A state store whose `get` fails or stalls on demand: a flaky target for resiliency tests. */
export class FlakyStateStore extends MemoryStateStore {
  private control: FlakyControl = { failures: 0, delayMs: 0, calls: 0 };

  constructor(private readonly controls: Map<string, FlakyControl>) {
    super();
  }

  override async init(init: ComponentInit): Promise<void> {
    await super.init(init);
    this.control = this.controls.get(init.name) ?? this.control;
    this.controls.set(init.name, this.control);
  }

  override async get(key: string): Promise<GetResponse | undefined> {
    this.control.calls += 1;
    if (this.control.delayMs > 0) await new Promise((r) => setTimeout(r, this.control.delayMs));
    if (this.control.failures > 0) {
      this.control.failures -= 1;
      throw new BackendError('flaky', 'the flaky store failed on purpose');
    }
    return super.get(key);
  }
}

/** `state.flaky`: each component's behaviour is the control object of its name in `controls`. */
export function flakyStateFactory(controls: Map<string, FlakyControl>): ComponentFactory<FlakyStateStore> {
  return { type: 'state.flaky', kind: 'state', versions: ['v1'], create: () => new FlakyStateStore(controls) };
}

export function control(controls: Map<string, FlakyControl>, name: string): FlakyControl {
  const found = controls.get(name);
  if (!found) throw new Error(`no flaky component ${name}`);
  return found;
}
