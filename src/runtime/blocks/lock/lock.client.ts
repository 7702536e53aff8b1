import { LockStoreNotConfiguredError } from '../../../errors/lock.errors';
import { SidekickError } from '../../../errors/sidekick.error';
import type { TryLockResponse, UnlockResponse } from '../../../spi/lock.store';
import type { LockGrant, LockService, WithLockOptions } from './lock.service';

export interface TryLockOptions {
  /** The lock store component; may be left out when exactly one lock store is loaded. */
  readonly store?: string;
  readonly resourceId: string;
  readonly lockOwner: string;
  /** Whole seconds, > 0. */
  readonly expiryInSeconds: number;
}

export interface UnlockOptions {
  readonly store?: string;
  readonly resourceId: string;
  readonly lockOwner: string;
}

/** `SidekickClient.lock`: the distributed lock API, on the same path as the HTTP API. */
export class LockClient {
  constructor(private readonly service: LockService) {}

  /** `{ success }` (and `fencingToken` on success); never waits. */
  async tryLock(options: TryLockOptions): Promise<TryLockResponse> {
    return this.service.tryLock(this.storeOf(options.store), options);
  }

  /** `{ status }`: 0 success, 1 lock does not exist, 2 belongs to another owner, 3 internal error (`UnlockStatus`). */
  async unlock(options: UnlockOptions): Promise<UnlockResponse> {
    return this.service.unlock(this.storeOf(options.store), options);
  }

  /**
   * Runs `fn` holding the lock on `resourceId` and unlocks after it; `fn` receives the grant with its
   * fencing token. Held by another owner: `LockHeldError` at once, or after `waitMs` of retries.
   */
  async withLock<T>(resourceId: string, fn: (grant: LockGrant) => Promise<T> | T, options: WithLockOptions & { readonly store?: string } = {}): Promise<T> {
    return this.service.withLock(this.storeOf(options.store), resourceId, fn, options);
  }

  private storeOf(store: string | undefined): string {
    if (store !== undefined) return store;
    const names = this.service.storeNames();
    const only = names.length === 1 ? names[0] : undefined;
    if (only !== undefined) return only;
    if (names.length === 0) throw new LockStoreNotConfiguredError('(not named)');
    throw new SidekickError('ERR_LOCK_STORE_NOT_FOUND', `name the lock store ({ store: '...' }): ${names.length} lock stores are loaded (${names.join(', ')})`);
  }
}
