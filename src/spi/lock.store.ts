import type { Component } from './component';

/**
 * A lock request as the component sees it. `resourceId` is the full stored key: the runtime has
 * applied Dapr's lock key layout (`lock||<appId>||<resourceId>` by default, see the lock block).
 */
export interface TryLockRequest {
  readonly resourceId: string;
  readonly lockOwner: string;
  /** Whole seconds, > 0. The lock is released by itself when they pass. */
  readonly expiryInSeconds: number;
}

/**
 * `success` as Dapr's. Beyond Dapr: a grant carries a `fencingToken`, a decimal integer that is
 * strictly greater than every token granted before for the same resource by the same store (it never
 * goes back, also across expiry, unlock and restarts of the app; memory: for the life of the process).
 */
export interface TryLockResponse {
  readonly success: boolean;
  /** Only on success: decimal digits, comparable as an integer (BigInt). */
  readonly fencingToken?: string;
}

export interface UnlockRequest {
  readonly resourceId: string;
  readonly lockOwner: string;
}

/** Dapr's unlock statuses: 0 success, 1 lock does not exist (or expired), 2 belongs to another owner, 3 internal error. */
export enum UnlockStatus {
  Success = 0,
  LockDoesNotExist = 1,
  LockBelongsToOthers = 2,
  InternalError = 3,
}

export interface UnlockResponse {
  readonly status: UnlockStatus;
}

/**
 * The distributed lock SPI (Dapr's `lock.Store`). A lock is held by one owner until it is unlocked by
 * that owner or its expiry passes. `tryLock` never waits: it answers `success: false` when the lock is
 * held (by anyone, the same owner included, as Dapr's Redis lock). Backend failures throw a
 * `BackendError`; the API answers them with `ERR_TRY_LOCK` / `ERR_UNLOCK`.
 */
export interface LockStore extends Component {
  tryLock(request: TryLockRequest): Promise<TryLockResponse>;
  unlock(request: UnlockRequest): Promise<UnlockResponse>;
}

export function isLockStore(component: Component): component is LockStore {
  const c = component as Partial<LockStore>;
  return typeof c.tryLock === 'function' && typeof c.unlock === 'function';
}

/** Compares two fencing tokens (decimal integers of any length): negative, 0 or positive. */
export function compareFencingTokens(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** True for a fencing token as the lock stores produce them: decimal digits, no sign, no leading zero. */
export function isFencingToken(value: string): boolean {
  return /^(0|[1-9]\d{0,38})$/.test(value);
}
