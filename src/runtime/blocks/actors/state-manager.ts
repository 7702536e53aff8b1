import { ActorError, ActorNotHostedError } from '../../../errors/actor.errors';
import { SidekickError } from '../../../errors/sidekick.error';
import type { ActorStateOp, ActorStore, Fence } from './actor-store';

interface Entry {
  value: unknown;
  change: 'none' | 'set' | 'remove';
}

export type TryGetResult<T> = { readonly found: true; readonly value: T } | { readonly found: false };

/**
 * An actor's state, key by key. Reads are cached for the actor's life; changes are kept until the
 * end of the turn (the method call), then saved as one transaction. A turn that throws drops its
 * changes (the cache is cleared, the store keeps what it had). Values are stored as JSON.
 */
export class ActorStateManager {
  private readonly cache = new Map<string, Entry>();
  /** Placement across instances: the owner record every save is checked against. */
  fence?: Fence;

  constructor(
    private readonly store: ActorStore,
    private readonly type: string,
    private readonly id: string,
  ) {}

  /** The value, or undefined when the key has none. */
  async get<T>(key: string): Promise<T | undefined> {
    const found = await this.tryGet<T>(key);
    return found.found ? found.value : undefined;
  }

  async tryGet<T>(key: string): Promise<TryGetResult<T>> {
    checkKey(key);
    const cached = this.cache.get(key);
    if (cached) return cached.change === 'remove' ? { found: false } : { found: true, value: cached.value as T };
    const data = await this.store.get(this.type, this.id, key);
    if (data === undefined) return { found: false };
    const value = decode(data);
    // A read finishing after a set of the same key (two reads in flight) must not undo the set.
    const now = this.cache.get(key);
    if (now) return now.change === 'remove' ? { found: false } : { found: true, value: now.value as T };
    this.cache.set(key, { value, change: 'none' });
    return { found: true, value: value as T };
  }

  async contains(key: string): Promise<boolean> {
    return (await this.tryGet(key)).found;
  }

  /** Sets the value (saved at the end of the turn). */
  async set<T>(key: string, value: T): Promise<void> {
    checkKey(key);
    if (value === undefined) throw new TypeError(`actor state "${key}": undefined cannot be stored; use remove("${key}")`);
    this.cache.set(key, { value, change: 'set' });
    return Promise.resolve();
  }

  /** Removes the key (at the end of the turn); false when it had no value. */
  async remove(key: string): Promise<boolean> {
    if (!(await this.contains(key))) return false;
    this.cache.set(key, { value: undefined, change: 'remove' });
    return true;
  }

  /** The value, or `value` (set, and saved at the end of the turn) when the key has none. */
  async getOrAdd<T>(key: string, value: T): Promise<T> {
    const found = await this.tryGet<T>(key);
    if (found.found) return found.value;
    await this.set(key, value);
    return value;
  }

  /** True when the turn changed something. */
  get dirty(): boolean {
    for (const entry of this.cache.values()) if (entry.change !== 'none') return true;
    return false;
  }

  /** Saves the turn's changes as one transaction (called by the runtime at the end of each turn). */
  async save(): Promise<void> {
    const ops: ActorStateOp[] = [];
    for (const [key, entry] of this.cache) {
      if (entry.change === 'set') ops.push({ key, value: encode(key, entry.value) });
      else if (entry.change === 'remove') ops.push({ key, delete: true });
    }
    if (ops.length === 0) return;
    await this.write(ops);
    for (const [key, entry] of this.cache) {
      if (entry.change === 'remove') this.cache.delete(key);
      else entry.change = 'none';
    }
  }

  /**
   * Applies a state transaction of the HTTP API (the app's actor behind the sidecar writes its state so,
   * inside its turn): guarded by the activation's fence like the turn's own save.
   */
  async transact(ops: readonly ActorStateOp[]): Promise<void> {
    await this.write(ops);
    this.discard(ops.map((op) => op.key));
  }

  /** One transaction; with placement, refused (ActorNotHostedError) when the owner record is no longer this activation's. */
  private async write(ops: readonly ActorStateOp[]): Promise<void> {
    const fence = this.fence;
    try {
      await this.store.transact(this.type, this.id, ops, fence);
    } catch (err) {
      const cause = err instanceof Error ? err.cause : undefined;
      if (fence && cause instanceof SidekickError && cause.code === 'ERR_ETAG_MISMATCH') {
        throw new ActorNotHostedError(this.type, this.id, 'its owner record changed, so this write was refused (fencing token)');
      }
      throw err;
    }
    if (fence) {
      const now = await this.store.getEntry(fence.key);
      if (!now || now.data.toString('utf8') !== fence.value) throw new ActorNotHostedError(this.type, this.id, 'another instance took it over');
      fence.etag = now.etag;
    }
  }

  /** Forgets cached values and unsaved changes (after a failed turn, or a write through the HTTP API). */
  discard(keys?: readonly string[]): void {
    if (!keys) this.cache.clear();
    else for (const key of keys) if (this.cache.get(key)?.change === 'none') this.cache.delete(key);
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key === '') throw new ActorError('ERR_MALFORMED_REQUEST', 'an actor state key must be a non-empty string');
  if (key.includes('||')) throw new ActorError('ERR_MALFORMED_REQUEST', `actor state key "${key}" can't contain '||'`);
}

function encode(key: string, value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw new ActorError('ERR_ACTOR_STATE_TRANSACTION_SAVE', `actor state "${key}" cannot be stored as JSON: ${(err as Error).message}`);
  }
}

function decode(data: Buffer): unknown {
  const text = data.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
