import { SidekickError, errorMessage } from '../../../errors/sidekick.error';
import type { StateQuery } from '../../../spi/state.query';
import { IllegalKeyError, TransactionsNotSupportedError } from '../../../errors/state.errors';
import { parseTtlSeconds } from '../../../spi/ttl';
import type { GetResponse, SetRequest, StateStore, TransactionOperation } from '../../../spi/state.store';
import type { ComponentLookup, FoundComponent } from '../../components/component.lookup';
import { collectFences, FENCING_TOKEN, fencedTransact, fenceOf } from './fencing';
import type { BulkStateEntry, StateDeleteItem, StateEntry, StateOperation, StateQueryResult, StateSaveItem } from './state.types';

interface ResolvedStore {
  readonly store: StateStore;
  /** `appid||`, `name||`, `custom||` or `''` for keyPrefix none. */
  readonly prefix: string;
}

/**
 * The state building block: applies Dapr's `keyPrefix`, TTL metadata and ETag options, and calls the
 * component. The HTTP API and `SidekickClient` both enter here; there is no other implementation.
 */
export class StateService {
  private readonly prefixes = new WeakMap<FoundComponent<StateStore>, ResolvedStore>();

  constructor(
    private readonly stores: ComponentLookup<StateStore>,
    private readonly appId: string,
    private readonly namespace: string | undefined,
  ) {}

  /** Names of the loaded state stores. */
  storeNames(): string[] {
    return this.stores.names();
  }

  async get(storeName: string, key: string): Promise<StateEntry | undefined> {
    const { store, prefix } = this.resolveNow(storeName) ?? (await this.resolveLater(storeName));
    const found = await store.get(this.fullKey(prefix, key));
    return found && toEntry(found);
  }

  async bulkGet(storeName: string, keys: readonly string[]): Promise<BulkStateEntry[]> {
    const { store, prefix } = this.resolveNow(storeName) ?? (await this.resolveLater(storeName));
    const found = await store.bulkGet(keys.map((k) => this.fullKey(prefix, k)));
    return keys.map((key, i) => {
      const item = found[i];
      return item ? { key, ...toEntry(item) } : { key };
    });
  }

  async save(storeName: string, items: readonly StateSaveItem[]): Promise<void> {
    const { store, prefix } = this.resolveNow(storeName) ?? (await this.resolveLater(storeName));
    if (items.length === 0) return;
    if (items.some((item) => item.metadata?.[FENCING_TOKEN] !== undefined)) {
      const fences = collectFences(items.map((item) => fenceOf(item.metadata, item.key)));
      if (!store.features.includes('TRANSACTIONAL')) throw new TransactionsNotSupportedError(storeName);
      const ops: TransactionOperation[] = items.map((item) => ({ operation: 'upsert', request: this.setRequest(prefix, item) }));
      await fencedTransact(store, storeName, prefix, fences, ops);
      return;
    }
    if (items.length === 1) {
      await store.set(this.setRequest(prefix, items[0] as StateSaveItem));
      return;
    }
    const requests = items.map((item) => this.setRequest(prefix, item));
    if (store.features.includes('TRANSACTIONAL')) {
      await store.transact(requests.map((request) => ({ operation: 'upsert', request })));
    } else {
      for (const request of requests) await store.set(request);
    }
  }

  async delete(storeName: string, item: StateDeleteItem): Promise<void> {
    const { store, prefix } = this.resolveNow(storeName) ?? (await this.resolveLater(storeName));
    await store.delete({ key: this.fullKey(prefix, item.key), etag: item.etag, options: item.options });
  }

  async transact(storeName: string, operations: readonly StateOperation[]): Promise<void> {
    const { store, prefix } = this.resolveNow(storeName) ?? (await this.resolveLater(storeName));
    if (!store.features.includes('TRANSACTIONAL')) throw new TransactionsNotSupportedError(storeName);
    if (operations.length === 0) return;
    const ops: TransactionOperation[] = operations.map((op) =>
      op.operation === 'upsert'
        ? { operation: 'upsert', request: this.setRequest(prefix, op.request) }
        : { operation: 'delete', request: { key: this.fullKey(prefix, op.request.key), etag: op.request.etag, options: op.request.options } },
    );
    const fences = collectFences(operations.map((op) => (op.operation === 'upsert' ? fenceOf(op.request.metadata, op.request.key) : undefined)));
    if (fences.length > 0) await fencedTransact(store, storeName, prefix, fences, ops);
    else await store.transact(ops);
  }

  /**
   * Dapr's state query (alpha) over this app's keys; result keys without the key prefix, as daprd
   * returns them. A store without `QUERY_API` answers `ERR_STATE_STORE_NOT_SUPPORTED`.
   */
  async query(storeName: string, query: StateQuery, metadata?: Readonly<Record<string, string>>): Promise<StateQueryResult> {
    const { store, prefix } = this.resolveNow(storeName) ?? (await this.resolveLater(storeName));
    if (typeof store.query !== 'function' || !store.features.includes('QUERY_API')) {
      throw new SidekickError('ERR_STATE_STORE_NOT_SUPPORTED', `state store ${storeName} doesn't support query`, {
        component: storeName,
        reason: 'DAPR_STATE_QUERYING_NOT_SUPPORTED',
      });
    }
    let found;
    try {
      found = await store.query({ query, keyPrefix: prefix, metadata });
    } catch (err) {
      if (err instanceof SidekickError && err.code !== 'ERR_BACKEND') throw err;
      throw new SidekickError('ERR_STATE_QUERY', `failed query in state store ${storeName}: ${errorMessage(err)}`, { component: storeName, cause: err });
    }
    return { results: found.results.map((r) => ({ key: r.key.slice(prefix.length), data: r.data, etag: r.etag })), token: found.token };
  }

  private setRequest(prefix: string, item: StateSaveItem): SetRequest {
    const ttl = item.metadata?.['ttlInSeconds'];
    return {
      key: this.fullKey(prefix, item.key),
      value: item.value,
      etag: item.etag,
      options: item.options,
      ttlInSeconds: ttl === undefined ? undefined : parseTtl(ttl),
    };
  }

  private fullKey(prefix: string, key: string): string {
    if (prefix !== '' && key.includes('||')) throw new IllegalKeyError(key);
    return prefix + key;
  }

  /** The store and its key prefix (computed once per store), or undefined before start-up finished. */
  private resolveNow(storeName: string): ResolvedStore | undefined {
    const found = this.stores.now(storeName);
    return found && this.withPrefix(storeName, found);
  }

  private async resolveLater(storeName: string): Promise<ResolvedStore> {
    return this.withPrefix(storeName, await this.stores.later(storeName));
  }

  private withPrefix(storeName: string, found: FoundComponent<StateStore>): ResolvedStore {
    let resolved = this.prefixes.get(found);
    if (!resolved) {
      const strategy = Object.entries(found.metadata).find(([k]) => k.toLowerCase() === 'keyprefix')?.[1];
      resolved = { store: found.component, prefix: keyPrefix(strategy, this.appId, storeName, this.namespace) };
      this.prefixes.set(found, resolved);
    }
    return resolved;
  }
}

/** Dapr's key prefix strategies (case-insensitive): appid (default), name, namespace, none, or a literal. */
export function keyPrefix(strategy: string | undefined, appId: string, storeName: string, namespace?: string): string {
  const value = strategy ?? 'appid';
  switch (value.toLowerCase()) {
    case 'appid':
      return appId ? `${appId}||` : '';
    case 'name':
      return `${storeName}||`;
    case 'namespace':
      return namespace ? `${namespace}.${appId}||` : `${appId}||`;
    case 'none':
      return '';
    default:
      if (value.includes('||')) throw new IllegalKeyError(value);
      return `${value}||`;
  }
}

function parseTtl(value: string): number | undefined {
  const parsed = parseTtlSeconds(value);
  if (!parsed.ok) throw new SidekickError('ERR_MALFORMED_REQUEST', parsed.reason, { field: 'metadata.ttlInSeconds' });
  return parsed.seconds;
}

function toEntry(found: GetResponse): StateEntry {
  // An expiry no date can hold (written by another runtime) is not reported rather than failing every read.
  return found.expiresAt === undefined || !Number.isFinite(new Date(found.expiresAt).getTime())
    ? { data: found.data, etag: found.etag }
    : { data: found.data, etag: found.etag, metadata: { ttlExpireTime: new Date(found.expiresAt).toISOString() } };
}
