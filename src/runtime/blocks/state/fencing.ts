import { FencingTokenStaleError } from '../../../errors/lock.errors';
import { BackendError, SidekickError } from '../../../errors/sidekick.error';
import { ETagMismatchError } from '../../../errors/state.errors';
import { compareFencingTokens, isFencingToken } from '../../../spi/lock.store';
import type { GetResponse, StateStore, TransactionOperation } from '../../../spi/state.store';

/*
 * Fencing tokens on state writes (beyond Dapr). A write whose metadata carries `fencingToken` (the
 * token a lock grant returned) is checked against the highest token written so far for its resource
 * (`fencingResource`, default: the item's key): an older token is refused with FencingTokenStaleError,
 * so a holder whose lease expired while it was paused cannot overwrite what the next holder wrote.
 *
 * The highest token is kept in the state store itself, in the record `<keyPrefix>sidekick-fence||<resource>`
 * (a key no app key can take: app keys cannot contain `||`), and the write and the record's update
 * are one transaction guarded by the record's ETag. Two writers racing on one resource: one
 * transaction fails its ETag check, reads the record again and compares again. Any transactional
 * store works, on every process that shares it. Writes without a token are not checked.
 */

export const FENCING_TOKEN = 'fencingToken';
export const FENCING_RESOURCE = 'fencingResource';
const MAX_ATTEMPTS = 50;

/** A write's fence: the resource and its token. */
export interface Fence {
  readonly resource: string;
  readonly token: string;
}

/** The fence an item's metadata asks for, or undefined (400 on a malformed token). */
export function fenceOf(metadata: Readonly<Record<string, string>> | undefined, key: string): Fence | undefined {
  const token = metadata?.[FENCING_TOKEN];
  if (token === undefined) return undefined;
  if (!isFencingToken(token)) {
    throw new SidekickError(
      'ERR_MALFORMED_REQUEST',
      `metadata.fencingToken "${token.slice(0, 40)}" is not a fencing token (the decimal integer a lock grant returned)`,
      {
        field: 'metadata.fencingToken',
      },
    );
  }
  const resource = metadata?.[FENCING_RESOURCE] ?? key;
  if (resource === '') throw new SidekickError('ERR_MALFORMED_REQUEST', 'metadata.fencingResource must not be empty', { field: 'metadata.fencingResource' });
  return { resource, token };
}

/** The fences of a write, one per resource (two different tokens for one resource: 400). */
export function collectFences(fences: readonly (Fence | undefined)[]): Fence[] {
  const byResource = new Map<string, string>();
  for (const fence of fences) {
    if (!fence) continue;
    const other = byResource.get(fence.resource);
    if (other !== undefined && other !== fence.token) {
      throw new SidekickError('ERR_MALFORMED_REQUEST', `one request carries fencing tokens ${other} and ${fence.token} for resource "${fence.resource}"`, {
        field: 'metadata.fencingToken',
      });
    }
    byResource.set(fence.resource, fence.token);
  }
  return [...byResource].map(([resource, token]) => ({ resource, token }));
}

export function fenceKey(prefix: string, resource: string): string {
  return `${prefix}sidekick-fence||${resource}`;
}

/** Applies `operations` in one transaction with the fence records, or throws FencingTokenStaleError. */
export async function fencedTransact(
  store: StateStore,
  storeName: string,
  prefix: string,
  fences: readonly Fence[],
  operations: readonly TransactionOperation[],
): Promise<void> {
  const keys = fences.map((f) => fenceKey(prefix, f.resource));
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const records = await store.bulkGet(keys);
    check(storeName, fences, records);
    const missing = fences.filter((_, i) => records[i] === undefined);
    if (missing.length > 0) {
      // First fenced write of a resource: create its record (first-write: one creator wins), then read again.
      for (const fence of missing) await createRecord(store, fenceKey(prefix, fence.resource), fence.token);
      continue;
    }
    const fenceOps: TransactionOperation[] = fences.map((fence, i) => ({
      operation: 'upsert',
      request: { key: keys[i] ?? '', value: fence.token, etag: records[i]?.etag, options: { concurrency: 'first-write' } },
    }));
    try {
      await store.transact([...fenceOps, ...operations]);
      return;
    } catch (err) {
      if (!(err instanceof ETagMismatchError)) throw err;
      // Whose ETag failed: a fence record another writer moved (try again), or the caller's own (theirs to handle).
      const now = await store.bulkGet(keys);
      if (now.every((record, i) => record?.etag === records[i]?.etag)) throw err;
    }
  }
  throw new BackendError(
    storeName,
    `state store ${storeName}: the fencing records of ${fences.map((f) => `"${f.resource}"`).join(', ')} kept changing; gave up after ${MAX_ATTEMPTS} attempts`,
  );
}

function check(storeName: string, fences: readonly Fence[], records: readonly (GetResponse | undefined)[]): void {
  fences.forEach((fence, i) => {
    const seen = records[i]?.data.toString('utf8');
    if (seen !== undefined && isFencingToken(seen) && compareFencingTokens(fence.token, seen) < 0) {
      throw new FencingTokenStaleError(storeName, fence.resource, fence.token, seen);
    }
  });
}

async function createRecord(store: StateStore, key: string, token: string): Promise<void> {
  try {
    await store.set({ key, value: token, options: { concurrency: 'first-write' } });
  } catch (err) {
    if (!(err instanceof ETagMismatchError)) throw err; // another writer created it first
  }
}
