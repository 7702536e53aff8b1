import { DuplicateNameError } from '../../errors/config.errors';
import { SidekickError } from '../../errors/sidekick.error';

interface Entry<T> {
  readonly value: T;
  readonly origin: string;
}

/**
 * A registry keyed by explicit names: a second registration under a name fails at start-up with both
 * origins named, and after `freeze()` (at launch) nothing more can be registered.
 */
export class NameRegistry<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private frozen = false;

  constructor(private readonly kind: string) {}

  register(name: string, value: T, origin: string): void {
    if (this.frozen) {
      throw new SidekickError('ERR_REGISTRY_FROZEN', `cannot register ${this.kind} "${name}" from ${origin}: the registry is locked once the app has started`);
    }
    const existing = this.entries.get(name);
    if (existing) throw new DuplicateNameError(this.kind, name, existing.origin, origin);
    this.entries.set(name, { value, origin });
  }

  get(name: string): T | undefined {
    return this.entries.get(name)?.value;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  values(): T[] {
    return [...this.entries.values()].map((e) => e.value);
  }

  freeze(): void {
    this.frozen = true;
  }
}
