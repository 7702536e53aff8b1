import type { Component } from './component';

export type Concurrency = 'first-write' | 'last-write';
export type Consistency = 'eventual' | 'strong';

export interface StateOptions {
  readonly concurrency?: Concurrency;
  readonly consistency?: Consistency;
}

/** Features a state store advertises (Dapr's capability names). */
export type StateFeature = 'ETAG' | 'TRANSACTIONAL' | 'TTL' | 'ACTOR';

/**
 * A write. `key` is the full stored key (the runtime has applied `keyPrefix`).
 *
 * ETag rules every store follows:
 * - `etag` given: the write succeeds only if the stored item has that etag, else `ETagMismatchError`
 *   (a missing item never matches). A malformed etag is `ETagInvalidError`.
 * - no `etag`, `concurrency: 'first-write'`: the write succeeds only if the key does not exist.
 * - no `etag`, last-write (the default): the write always succeeds.
 * Unlike daprd's Redis store (which ignores an etag under last-write), an etag, when given, is always
 * checked: a client that sends one wants the check.
 * A successful write gives the item a new etag.
 */
export interface SetRequest {
  readonly key: string;
  /** The bytes to store; a string stands for its UTF-8 bytes (JSON text stays a string on the hot path). */
  readonly value: Buffer | string;
  readonly etag?: string;
  /**
   * Seconds until the item expires (> 0). `-1`: no expiry. `undefined`: the store's default TTL if its
   * metadata sets one (Dapr's `ttlInSeconds` component metadata), else no expiry. A write without a
   * TTL removes the item's previous TTL.
   */
  readonly ttlInSeconds?: number;
  readonly options?: StateOptions;
}

/** A delete. Same ETag rules as {@link SetRequest}; deleting a missing key without an etag succeeds. */
export interface DeleteRequest {
  readonly key: string;
  readonly etag?: string;
  readonly options?: StateOptions;
}

export interface GetResponse {
  readonly data: Buffer;
  readonly etag: string;
  /** Expiry time (ms since epoch) when the item has a TTL; surfaced as `metadata.ttlExpireTime`. */
  readonly expiresAt?: number;
}

export type TransactionOperation =
  | { readonly operation: 'upsert'; readonly request: SetRequest }
  | { readonly operation: 'delete'; readonly request: DeleteRequest };

/**
 * The state store SPI. Expired items are never returned. Every method may throw a
 * `SidekickError`; backend failures should be `BackendError` (retryable).
 */
export interface StateStore extends Component {
  readonly features: readonly StateFeature[];
  get(key: string, options?: StateOptions): Promise<GetResponse | undefined>;
  /** One entry per key, in the order given; `undefined` where the key is missing. */
  bulkGet(keys: readonly string[]): Promise<(GetResponse | undefined)[]>;
  set(request: SetRequest): Promise<void>;
  delete(request: DeleteRequest): Promise<void>;
  /**
   * Applies every operation or none (all ETags are checked before anything is written). An etag given
   * for a key that an earlier operation of the same transaction wrote never matches.
   */
  transact(operations: readonly TransactionOperation[]): Promise<void>;
}
