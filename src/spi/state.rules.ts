import { ETagMismatchError } from '../errors/state.errors';
import type { DeleteRequest, SetRequest } from './state.store';

/**
 * How a backend's daprd component treats ETags, concurrency and TTLs on writes. Each Sidekick store
 * follows the component daprd runs for the same backend (dapr/components-contrib), so that both can
 * share data and answer the same requests alike. The conformance suite checks every store against
 * the rules it declares here.
 */
export interface StateWriteRules {
  /** A save with an etag on a missing key: `create` it (daprd's Redis: version 1) or `mismatch`. */
  readonly saveETagOnMissingKey: 'create' | 'mismatch';
  /** A delete with an etag on a missing key: `succeed` (nothing to delete) or `mismatch`. */
  readonly deleteETagOnMissingKey: 'succeed' | 'mismatch';
  /** The etag `"0"` stands for no etag (daprd's Redis: version 0 is "no version"); else it is just a wrong etag. */
  readonly zeroETagIsNone: boolean;
  /** Under an explicit `last-write`, a save ignores its etag (deletes still check theirs). */
  readonly lastWriteIgnoresETag: boolean;
  /**
   * `first-write` without an etag on an existing key: `refuse` (the SQL stores, in-memory) or
   * `overwrite` unless the key was itself created by a first-write save (daprd's Redis keeps a
   * `first-write` field in the hash; a key that has it refuses every save without its etag).
   */
  readonly firstWriteWithoutETag: 'refuse' | 'overwrite-unless-marked';
  /** A save without a TTL: `keep` the item's current expiry (Redis) or `clear` it (the SQL stores, in-memory). */
  readonly saveWithoutTtl: 'keep' | 'clear';
}

/** daprd's `state.redis` (the setDefaultQuery/delDefaultQuery scripts of components-contrib `state/redis/redis.go`). */
export const REDIS_STATE_RULES: StateWriteRules = {
  saveETagOnMissingKey: 'create',
  deleteETagOnMissingKey: 'succeed',
  zeroETagIsNone: true,
  lastWriteIgnoresETag: true,
  firstWriteWithoutETag: 'overwrite-unless-marked',
  saveWithoutTtl: 'keep',
};

/**
 * daprd's `state.postgresql` v2, `state.sqlite` and `state.in-memory` (components-contrib
 * `state/postgresql/v2/postgresql.go`, `state/sqlite/sqlite_dbaccess.go`, `state/in-memory/in_memory.go`):
 * an etag is always checked and never matches a missing item, first-write refuses any live item, and
 * every save sets the expiry anew.
 */
export const STRICT_STATE_RULES: StateWriteRules = {
  saveETagOnMissingKey: 'mismatch',
  deleteETagOnMissingKey: 'mismatch',
  zeroETagIsNone: false,
  lastWriteIgnoresETag: false,
  firstWriteWithoutETag: 'refuse',
  saveWithoutTtl: 'clear',
};

/**
 * {@link STRICT_STATE_RULES} for stores that read the current etag and decide in-process (memory,
 * SQLite). `current` is the live item's etag (undefined when missing or expired). Throws
 * `ETagMismatchError` when the write must be refused.
 */
export function checkETag(component: string, current: string | undefined, request: SetRequest | DeleteRequest): void {
  if (request.etag !== undefined && request.etag !== '') {
    if (current !== request.etag) throw new ETagMismatchError(component, request.key);
    return;
  }
  if (request.options?.concurrency === 'first-write' && current !== undefined && isSet(request)) {
    throw new ETagMismatchError(component, request.key);
  }
}

function isSet(request: SetRequest | DeleteRequest): request is SetRequest {
  return 'value' in request;
}

/** True when `ttlInSeconds` asks for an expiry. */
export function hasTtl(request: SetRequest): request is SetRequest & { ttlInSeconds: number } {
  return request.ttlInSeconds !== undefined && request.ttlInSeconds > 0;
}
