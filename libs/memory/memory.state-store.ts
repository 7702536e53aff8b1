import { ETagInvalidError } from '../../src/errors/state.errors';
import type { Clock } from '../../src/spi/clock';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import { tryParseJson } from '../../src/spi/codec';
import { compareForSort, isQueryableKey, matchesFilter, pageOf, type StateQueryRequest, type StateQueryResponse } from '../../src/spi/state.query';
import { checkETag, hasTtl } from '../../src/spi/state.rules';
import type { DeleteRequest, GetResponse, SetRequest, StateFeature, StateStore, TransactionOperation } from '../../src/spi/state.store';

interface Entry {
  readonly data: Buffer;
  readonly etag: string;
  readonly expiresAt?: number;
}

/** `state.in-memory`: a Map in this process. For tests and as a fallback; lost on exit. */
export class MemoryStateStore implements StateStore {
  readonly features: readonly StateFeature[] = ['ETAG', 'TRANSACTIONAL', 'TTL', 'ACTOR', 'QUERY_API'];
  private readonly items = new Map<string, Entry>();
  private name = 'in-memory';
  private clock!: Clock;
  private version = 0;

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.clock = init.clock;
  }

  async close(): Promise<void> {
    this.items.clear();
  }

  async get(key: string): Promise<GetResponse | undefined> {
    return this.read(key);
  }

  async bulkGet(keys: readonly string[]): Promise<(GetResponse | undefined)[]> {
    return keys.map((key) => this.read(key));
  }

  async set(request: SetRequest): Promise<void> {
    this.validate(request);
    checkETag(this.name, this.read(request.key)?.etag, request);
    this.write(request);
  }

  async delete(request: DeleteRequest): Promise<void> {
    this.validate(request);
    checkETag(this.name, this.read(request.key)?.etag, request);
    this.items.delete(request.key);
  }

  async transact(operations: readonly TransactionOperation[]): Promise<void> {
    // Check every ETag against the state as the transaction evolves, then apply: all or nothing.
    const staged = new Map<string, string | undefined>();
    for (const op of operations) {
      this.validate(op.request);
      const current = staged.has(op.request.key) ? staged.get(op.request.key) : this.read(op.request.key)?.etag;
      checkETag(this.name, current, op.request);
      staged.set(op.request.key, op.operation === 'upsert' ? 'staged' : undefined);
    }
    for (const op of operations) {
      if (op.operation === 'upsert') this.write(op.request);
      else this.items.delete(op.request.key);
    }
  }

  /** The reference implementation of the query semantics (src/spi/state.query.ts). */
  async query(request: StateQueryRequest): Promise<StateQueryResponse> {
    const { query, keyPrefix } = request;
    const found: { key: string; value: unknown; entry: Entry }[] = [];
    for (const key of [...this.items.keys()]) {
      if (!isQueryableKey(key, keyPrefix)) continue;
      const entry = this.read(key);
      if (!entry) continue;
      const parsed = tryParseJson(entry.data);
      if (parsed.ok && matchesFilter(parsed.value, query.filter)) found.push({ key, value: parsed.value, entry });
    }
    found.sort((a, b) => compareForSort(a, b, query.sort));
    const window = found.slice(query.offset, query.limit === 0 ? undefined : query.offset + query.limit + 1);
    const page = pageOf(window, query);
    return { results: page.rows.map((r) => ({ key: r.key, data: r.entry.data, etag: r.entry.etag })), token: page.token };
  }

  private read(key: string): Entry | undefined {
    const entry = this.items.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.clock.now()) {
      this.items.delete(key);
      return undefined;
    }
    return entry;
  }

  private write(request: SetRequest): void {
    this.version += 1;
    this.items.set(request.key, {
      data: typeof request.value === 'string' ? Buffer.from(request.value, 'utf8') : Buffer.from(request.value),
      etag: String(this.version),
      expiresAt: hasTtl(request) ? this.clock.now() + request.ttlInSeconds * 1000 : undefined,
    });
  }

  private validate(request: SetRequest | DeleteRequest): void {
    if (request.etag !== undefined && request.etag !== '' && !/^\d+$/.test(request.etag)) {
      throw new ETagInvalidError(this.name, request.etag);
    }
  }
}

export const memoryStateStoreFactory: ComponentFactory<MemoryStateStore> = {
  type: 'state.in-memory',
  kind: 'state',
  versions: ['v1'],
  create: () => new MemoryStateStore(),
};
