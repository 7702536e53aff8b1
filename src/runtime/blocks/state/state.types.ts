import type { StateOptions } from '../../../spi/state.store';

/** A save through the state block; keys are the app's keys (before `keyPrefix`). */
export interface StateSaveItem {
  readonly key: string;
  /** Bytes, or text that stands for its UTF-8 bytes. */
  readonly value: Buffer | string;
  readonly etag?: string;
  /** Dapr request metadata: `ttlInSeconds` is honoured. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly options?: StateOptions;
}

export interface StateDeleteItem {
  readonly key: string;
  readonly etag?: string;
  readonly options?: StateOptions;
}

export type StateOperation =
  { readonly operation: 'upsert'; readonly request: StateSaveItem } | { readonly operation: 'delete'; readonly request: StateDeleteItem };

export interface StateEntry {
  readonly data: Buffer;
  readonly etag: string;
  /** Response metadata, e.g. `ttlExpireTime` (RFC 3339) for items with a TTL. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface BulkStateEntry {
  readonly key: string;
  readonly data?: Buffer;
  readonly etag?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly error?: string;
}

/** A page of query results; keys are the app's keys (without `keyPrefix`). */
export interface StateQueryResult {
  readonly results: readonly { readonly key: string; readonly data: Buffer; readonly etag: string }[];
  /** The next page's token, when more results follow. */
  readonly token?: string;
}
