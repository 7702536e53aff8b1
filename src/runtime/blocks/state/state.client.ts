import { decodeJsonOrText as decode, encodeJsonText as encodeValue } from '../../../spi/codec';
import { parseStateQuery } from '../../../spi/state.query';
import type { Concurrency, Consistency } from '../../../spi/state.store';
import type { StateService } from './state.service';
import type { StateOperation, StateSaveItem } from './state.types';

export interface SaveOptions {
  /** Write only if the stored item still has this etag. */
  readonly etag?: string;
  readonly concurrency?: Concurrency;
  readonly consistency?: Consistency;
  /** Expire the item after this many seconds. */
  readonly ttlInSeconds?: number;
  /** Further Dapr request metadata. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface DeleteOptions {
  readonly etag?: string;
  readonly concurrency?: Concurrency;
  readonly consistency?: Consistency;
}

export interface StateItem<T> {
  readonly key: string;
  readonly value: T;
  readonly etag: string;
}

export type StateTransactionOp<T> =
  | ({ readonly operation: 'upsert'; readonly key: string; readonly value: T } & SaveOptions)
  | ({ readonly operation: 'delete'; readonly key: string } & DeleteOptions);

/**
 * A typed client for one state store. Values are stored as JSON (as daprd's HTTP API does), except
 * `Buffer`/`Uint8Array` values, which are stored as raw bytes (read them back with `getBytes`).
 */
export class StateClient<T = unknown> {
  constructor(
    private readonly service: StateService,
    readonly storeName: string,
  ) {}

  async get(key: string): Promise<T | undefined> {
    const entry = await this.service.get(this.storeName, key);
    return entry && (decode(entry.data) as T);
  }

  /** The value with its etag, for optimistic concurrency. */
  async getEntry(key: string): Promise<StateItem<T> | undefined> {
    const entry = await this.service.get(this.storeName, key);
    return entry && { key, value: decode(entry.data) as T, etag: entry.etag };
  }

  async getBytes(key: string): Promise<Buffer | undefined> {
    return (await this.service.get(this.storeName, key))?.data;
  }

  /** One result per key, in order; `value` is undefined for a missing key. */
  /**
   * Dapr's state query (alpha): `{ filter: { EQ: { 'person.org': 'Dev Ops' } }, sort: [{ key: 'age', order: 'DESC' }], page: { limit: 10 } }`.
   * Pass the returned `token` as `page.token` for the next page. Throws `ERR_STATE_QUERY` (400) on a bad query.
   */
  async query(query: unknown): Promise<{ results: StateItem<T>[]; token?: string }> {
    const found = await this.service.query(this.storeName, parseStateQuery(query));
    return { results: found.results.map((r) => ({ key: r.key, value: decode(r.data) as T, etag: r.etag })), token: found.token };
  }

  async getBulk(keys: readonly string[]): Promise<{ key: string; value?: T; etag?: string }[]> {
    const items = await this.service.bulkGet(this.storeName, keys);
    return items.map((item) => (item.data ? { key: item.key, value: decode(item.data) as T, etag: item.etag } : { key: item.key }));
  }

  save(key: string, value: T, options: SaveOptions = {}): Promise<void> {
    return this.service.save(this.storeName, [toSaveItem(key, value, options)]);
  }

  saveMany(items: readonly ({ key: string; value: T } & SaveOptions)[]): Promise<void> {
    return this.service.save(
      this.storeName,
      items.map((item) => toSaveItem(item.key, item.value, item)),
    );
  }

  delete(key: string, options: DeleteOptions = {}): Promise<void> {
    return this.service.delete(this.storeName, { key, etag: options.etag, options: stateOptions(options) });
  }

  /** Upserts and deletes applied atomically: all or none. */
  transaction(operations: readonly StateTransactionOp<T>[]): Promise<void> {
    const ops: StateOperation[] = operations.map((op) =>
      op.operation === 'upsert'
        ? { operation: 'upsert', request: toSaveItem(op.key, op.value, op) }
        : { operation: 'delete', request: { key: op.key, etag: op.etag, options: stateOptions(op) } },
    );
    return this.service.transact(this.storeName, ops);
  }
}

function toSaveItem(key: string, value: unknown, options: SaveOptions): StateSaveItem {
  const metadata = options.ttlInSeconds === undefined ? options.metadata : { ...(options.metadata ?? {}), ttlInSeconds: String(options.ttlInSeconds) };
  return { key, value: encodeValue(value), etag: options.etag, metadata, options: stateOptions(options) };
}

function stateOptions(options: { concurrency?: Concurrency; consistency?: Consistency }): StateSaveItem['options'] {
  return options.concurrency || options.consistency ? { concurrency: options.concurrency, consistency: options.consistency } : undefined;
}
