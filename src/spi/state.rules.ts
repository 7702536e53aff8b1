import { ETagMismatchError } from '../errors/state.errors';
import type { DeleteRequest, SetRequest } from './state.store';

/**
 * The ETag rules of {@link SetRequest}, for stores that read the current etag and decide in-process
 * (memory, SQLite). Throws `ETagMismatchError` when the write must be refused.
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
