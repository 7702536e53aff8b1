import { randomUUID } from 'node:crypto';
import { ConfigError } from '../../../errors/config.errors';
import { LockHeldError, LockStoreNotConfiguredError } from '../../../errors/lock.errors';
import { ApiError, SidekickError, errorMessage } from '../../../errors/sidekick.error';
import type { Clock } from '../../../spi/clock';
import type { SidekickLogger } from '../../../spi/logger';
import { type LockStore, type TryLockResponse, type UnlockResponse, UnlockStatus } from '../../../spi/lock.store';
import type { ComponentLookup, FoundComponent } from '../../components/component.lookup';

export interface LockRequest {
  readonly resourceId: string;
  readonly lockOwner: string;
  readonly expiryInSeconds: number;
}

export interface UnlockRequestBody {
  readonly resourceId: string;
  readonly lockOwner: string;
}

const MAX_EXPIRY_SECONDS = 2_147_483_647;

/** How {@link LockService.withLock} behaves when the lock is held. */
export interface WithLockOptions {
  /** Lease length; the lock frees itself after it even if the process dies. Default 60. */
  readonly expiryInSeconds?: number;
  /** The owner token; default a fresh `<appId>-<uuid>` per call. */
  readonly lockOwner?: string;
  /**
   * How long to keep trying (ms, on the injected clock) while the lock is held; default 0: fail fast
   * with `LockHeldError`. Tries again every `retryIntervalMs` (default 100).
   */
  readonly waitMs?: number;
  readonly retryIntervalMs?: number;
}

/** A grant, as `withLock` hands it to the guarded function. */
export interface LockGrant {
  readonly store: string;
  readonly resourceId: string;
  readonly lockOwner: string;
  /** Monotonic per resource: pass it to state writes as `metadata.fencingToken` (README, "Fencing tokens"). */
  readonly fencingToken: string;
}

/** The Dapr lock key layout (daprd's GetModifiedLockKey): `lock||<appId>||<id>` by default. */
export function lockKey(resourceId: string, strategy: string | undefined, appId: string, storeName: string): string {
  if (resourceId.includes('||'))
    throw new SidekickError('ERR_MALFORMED_REQUEST', `input key/keyPrefix '${resourceId}' can't contain '||'`, { field: 'resourceId' });
  const value = (strategy ?? '').trim() === '' ? 'appid' : (strategy ?? '');
  switch (value.toLowerCase()) {
    case 'none':
      return `lock||${resourceId}`;
    case 'name':
      return `lock||${storeName}||${resourceId}`;
    case 'appid':
      return appId === '' ? `lock||${resourceId}` : `lock||${appId}||${resourceId}`;
    default:
      return `lock||${value.toLowerCase()}||${resourceId}`;
  }
}

/**
 * The distributed lock block: validates as daprd does, applies the lock key layout and calls the
 * component. The HTTP API, `SidekickClient.lock` and `@WithLock` all enter here.
 */
export class LockService {
  constructor(
    private readonly stores: ComponentLookup<LockStore>,
    private readonly appId: string,
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
  ) {}

  storeNames(): string[] {
    return this.stores.names();
  }

  /** Checks every lock store's `keyPrefix` at start-up. */
  checkKeyPrefixes(): void {
    for (const name of this.stores.names()) {
      const found = this.stores.find(name);
      const strategy = found && prefixOf(found);
      if (strategy?.includes('||'))
        throw new ConfigError(`keyPrefix "${strategy}" of lock store ${name} can't contain '||'`, { component: name, field: 'spec.metadata.keyPrefix' });
    }
  }

  async tryLock(storeName: string, request: LockRequest): Promise<TryLockResponse> {
    if (!Number.isSafeInteger(request.expiryInSeconds) || request.expiryInSeconds <= 0) {
      throw new ApiError(400, 'ERR_MALFORMED_REQUEST', `ExpiryInSeconds is not positive in lock store ${storeName}`);
    }
    if (request.expiryInSeconds > MAX_EXPIRY_SECONDS) {
      // daprd's field is an int32: a larger number does not decode.
      throw new ApiError(
        400,
        'ERR_MALFORMED_REQUEST',
        `expiryInSeconds ${request.expiryInSeconds} is larger than ${MAX_EXPIRY_SECONDS} (an int32, as daprd's)`,
      );
    }
    const found = await this.resolve(storeName, request);
    const key = this.keyOf(found, request.resourceId, 'ERR_TRY_LOCK', 'failed to try acquiring lock');
    try {
      return await found.component.tryLock({ resourceId: key, lockOwner: request.lockOwner, expiryInSeconds: request.expiryInSeconds });
    } catch (err) {
      throw new SidekickError('ERR_TRY_LOCK', `failed to try acquiring lock: ${errorMessage(err)}`, { component: storeName, cause: err });
    }
  }

  async unlock(storeName: string, request: UnlockRequestBody): Promise<UnlockResponse> {
    const found = await this.resolve(storeName, request);
    const key = this.keyOf(found, request.resourceId, 'ERR_UNLOCK', 'failed to release lock');
    try {
      return await found.component.unlock({ resourceId: key, lockOwner: request.lockOwner });
    } catch (err) {
      throw new SidekickError('ERR_UNLOCK', `failed to release lock: ${errorMessage(err)}`, { component: storeName, cause: err });
    }
  }

  /**
   * Runs `fn` holding the lock, and unlocks after it (also when it throws). When the lock is held:
   * `LockHeldError` at once, or after `waitMs` of retries. A lease that expired before `fn` finished
   * is logged as a warning (the unlock answers 1 or 2): guard writes with the fencing token.
   */
  async withLock<T>(storeName: string, resourceId: string, fn: (grant: LockGrant) => Promise<T> | T, options: WithLockOptions = {}): Promise<T> {
    const lockOwner = options.lockOwner ?? `${this.appId}-${randomUUID()}`;
    const expiryInSeconds = options.expiryInSeconds ?? 60;
    const deadline = this.clock.now() + (options.waitMs ?? 0);
    let granted = await this.tryLock(storeName, { resourceId, lockOwner, expiryInSeconds });
    while (!granted.success) {
      if (this.clock.now() >= deadline) throw new LockHeldError(storeName, resourceId);
      await this.clock.sleep(Math.min(options.retryIntervalMs ?? 100, Math.max(1, deadline - this.clock.now())));
      granted = await this.tryLock(storeName, { resourceId, lockOwner, expiryInSeconds });
    }
    try {
      return await fn({ store: storeName, resourceId, lockOwner, fencingToken: granted.fencingToken ?? '' });
    } finally {
      await this.release(storeName, resourceId, lockOwner);
    }
  }

  private async release(storeName: string, resourceId: string, lockOwner: string): Promise<void> {
    try {
      const { status } = await this.unlock(storeName, { resourceId, lockOwner });
      if (status !== UnlockStatus.Success) {
        this.logger.warn(
          { component: storeName, resourceId, status },
          `lock "${resourceId}" was no longer held at unlock (status ${status}): its lease expired while the guarded work ran`,
        );
      }
    } catch (err) {
      // The lease still expires by itself; the guarded work's own result matters more than this failure.
      this.logger.warn({ component: storeName, resourceId, err: errorMessage(err) }, `unlocking "${resourceId}" failed; the lock frees itself at expiry`);
    }
  }

  /** The component, after daprd's checks in daprd's order (not configured, empty id, empty owner, not found). */
  private async resolve(storeName: string, request: UnlockRequestBody): Promise<FoundComponent<LockStore>> {
    let found: FoundComponent<LockStore> | undefined;
    let failure: unknown;
    try {
      found = this.stores.now(storeName) ?? (await this.stores.later(storeName));
    } catch (err) {
      failure = err;
    }
    if (this.stores.names().length === 0) throw new LockStoreNotConfiguredError(storeName);
    if (request.resourceId === '') throw new ApiError(400, 'ERR_MALFORMED_REQUEST', `ResourceId is empty in lock store ${storeName}`);
    if (request.lockOwner === '') throw new ApiError(400, 'ERR_MALFORMED_REQUEST', `LockOwner is empty in lock store ${storeName}`);
    if (!found) throw failure;
    return found;
  }

  private keyOf(found: FoundComponent<LockStore>, resourceId: string, code: string, what: string): string {
    try {
      return lockKey(resourceId, prefixOf(found), this.appId, found.name);
    } catch (err) {
      throw new SidekickError(code, `${what}: ${errorMessage(err)}`, { component: found.name });
    }
  }
}

function prefixOf(found: FoundComponent<LockStore>): string | undefined {
  return Object.entries(found.metadata).find(([k]) => k.toLowerCase() === 'keyprefix')?.[1];
}
