import { SidekickError } from '../../../errors/sidekick.error';
import { IllegalKeyError, StateStoreNotFoundError, TransactionsNotSupportedError } from '../../../errors/state.errors';
import type { GetResponse, SetRequest, StateStore, TransactionOperation } from '../../../spi/state.store';
import type { ComponentManager } from '../../components/component.manager';
import type { Readiness } from '../../readiness';
import type { BulkStateEntry, StateDeleteItem, StateEntry, StateOperation, StateSaveItem } from './state.types';

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
  private readonly stores = new Map<string, ResolvedStore>();

  constructor(
    private readonly components: ComponentManager,
    private readonly appId: string,
    private readonly readiness: Readiness,
  ) {}

  /** Names of the loaded state stores. */
  storeNames(): string[] {
    return this.components.list('state').map((c) => c.spec.name);
  }

  async get(storeName: string, key: string): Promise<StateEntry | undefined> {
    const { store, prefix } = this.resolve(storeName) ?? (await this.resolveLate(storeName));
    const found = await store.get(this.fullKey(prefix, key));
    return found && toEntry(found);
  }

  async bulkGet(storeName: string, keys: readonly string[]): Promise<BulkStateEntry[]> {
    const { store, prefix } = this.resolve(storeName) ?? (await this.resolveLate(storeName));
    const found = await store.bulkGet(keys.map((k) => this.fullKey(prefix, k)));
    return keys.map((key, i) => {
      const item = found[i];
      return item ? { key, ...toEntry(item) } : { key };
    });
  }

  async save(storeName: string, items: readonly StateSaveItem[]): Promise<void> {
    const { store, prefix } = this.resolve(storeName) ?? (await this.resolveLate(storeName));
    if (items.length === 0) return;
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
    const { store, prefix } = this.resolve(storeName) ?? (await this.resolveLate(storeName));
    await store.delete({ key: this.fullKey(prefix, item.key), etag: item.etag, options: item.options });
  }

  async transact(storeName: string, operations: readonly StateOperation[]): Promise<void> {
    const { store, prefix } = this.resolve(storeName) ?? (await this.resolveLate(storeName));
    if (!store.features.includes('TRANSACTIONAL')) throw new TransactionsNotSupportedError(storeName);
    if (operations.length === 0) return;
    const ops: TransactionOperation[] = operations.map((op) =>
      op.operation === 'upsert'
        ? { operation: 'upsert', request: this.setRequest(prefix, op.request) }
        : { operation: 'delete', request: { key: this.fullKey(prefix, op.request.key), etag: op.request.etag, options: op.request.options } },
    );
    await store.transact(ops);
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

  private resolve(storeName: string): ResolvedStore | undefined {
    const cached = this.stores.get(storeName);
    if (cached || !this.readiness.ready) return cached;
    const loaded = this.components.get(storeName);
    if (!loaded || loaded.spec.kind !== 'state') throw new StateStoreNotFoundError(storeName, this.storeNames());
    const meta = loaded.spec.metadata.find((m) => m.name.toLowerCase() === 'keyprefix')?.value;
    const resolved = { store: loaded.instance as StateStore, prefix: keyPrefix(meta, this.appId, storeName) };
    this.stores.set(storeName, resolved);
    return resolved;
  }

  /** Before start-up has finished: wait for it, then look the store up. */
  private async resolveLate(storeName: string): Promise<ResolvedStore> {
    await this.readiness.promise;
    const resolved = this.resolve(storeName);
    if (!resolved) throw new StateStoreNotFoundError(storeName, this.storeNames());
    return resolved;
  }
}

/** Dapr's key prefix strategies (case-insensitive): appid (default), name, namespace, none, or a literal. */
export function keyPrefix(strategy: string | undefined, appId: string, storeName: string): string {
  const value = strategy ?? 'appid';
  switch (value.toLowerCase()) {
    case 'appid':
      return appId ? `${appId}||` : '';
    case 'name':
      return `${storeName}||`;
    case 'namespace': {
      const ns = process.env['NAMESPACE'];
      return ns ? `${ns}.${appId}||` : `${appId}||`;
    }
    case 'none':
      return '';
    default:
      if (value.includes('||')) throw new IllegalKeyError(value);
      return `${value}||`;
  }
}

function parseTtl(value: string): number | undefined {
  const ttl = Number(value);
  if (!Number.isInteger(ttl) || ttl < -1) {
    throw new SidekickError('ERR_MALFORMED_REQUEST', `metadata ttlInSeconds "${value}" must be an integer of -1 or more`, { field: 'metadata.ttlInSeconds' });
  }
  return ttl === 0 ? undefined : ttl;
}

function toEntry(found: GetResponse): StateEntry {
  return found.expiresAt === undefined
    ? { data: found.data, etag: found.etag }
    : { data: found.data, etag: found.etag, metadata: { ttlExpireTime: new Date(found.expiresAt).toISOString() } };
}
