import type { Component } from './component';
import type { StateQueryRequest, StateQueryResponse } from './state.query';

export type Concurrency = 'first-write' | 'last-write';
export type Consistency = 'eventual' | 'strong';

export interface StateOptions {
  readonly concurrency?: Concurrency;
  readonly consistency?: Consistency;
}

/** Features a state store advertises (Dapr's capability names). */
export type StateFeature = 'ETAG' | 'TRANSACTIONAL' | 'TTL' | 'ACTOR' | 'QUERY_API';

/**
 * A write. `key` is the full stored key (the runtime has applied `keyPrefix`).
 *
 * ETags, concurrency and TTLs follow the rules of daprd's component for the same backend, declared in
 * `StateWriteRules` (src/spi/state.rules.ts) and checked by the conformance suite. What all share:
 * - a save with the item's current etag succeeds, one with another etag of an existing item fails
 *   with `ETagMismatchError` (a malformed etag is `ETagInvalidError` or a mismatch, per backend);
 * - a save without an etag under last-write (the default) succeeds, except on a Redis key created by
 *   a first-write save (daprd's `first-write` marker);
 * - a successful write gives the item a new etag.
 * Where they differ (REDIS_STATE_RULES vs STRICT_STATE_RULES): an etag on a missing key (Redis
 * creates it), the etag "0" (Redis: no etag), an etag under an explicit last-write (Redis ignores it on
 * saves), first-write without an etag on an existing key (Redis overwrites it unless marked), and a
 * save without a TTL (Redis keeps the key's expiry, the others clear it).
 */
export interface SetRequest {
  readonly key: string;
  /** The bytes to store; a string stands for its UTF-8 bytes (JSON text stays a string on the hot path). */
  readonly value: Buffer | string;
  readonly etag?: string;
  /**
   * Seconds until the item expires (> 0). `-1`: no expiry (removes the item's TTL). `undefined`: the
   * store's default TTL if its metadata sets one (Dapr's `ttlInSeconds` component metadata), else no
   * new expiry: Redis keeps the item's current TTL, the other stores clear it (`saveWithoutTtl`).
   */
  readonly ttlInSeconds?: number;
  readonly options?: StateOptions;
}

/**
 * A delete. ETag rules as for {@link SetRequest}, but a delete always checks its etag (also under
 * last-write); with an etag on a missing key it succeeds on Redis and mismatches elsewhere. Deleting a
 * missing key without an etag succeeds.
 */
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
  { readonly operation: 'upsert'; readonly request: SetRequest } | { readonly operation: 'delete'; readonly request: DeleteRequest };

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
   * Applies every operation or none (all ETags are checked before anything is written; daprd's Redis
   * store, unlike Sidekick's, applies the operations before a failed one). An etag given for a key
   * that an earlier operation of the same transaction wrote never matches.
   */
  transact(operations: readonly TransactionOperation[]): Promise<void>;
  /**
   * Dapr's state query (alpha), for stores that advertise `QUERY_API`: the semantics of
   * src/spi/state.query.ts (memory is the reference), over live items under `keyPrefix` whose value
   * is JSON. Optional: stores without it answer `ERR_STATE_STORE_NOT_SUPPORTED`.
   */
  query?(request: StateQueryRequest): Promise<StateQueryResponse>;
}
