import { z } from 'zod';
import { embedAsJson } from '../../../spi/codec';
import { parseStateQuery } from '../../../spi/state.query';
import { type ApiContext, ApiError, type ApiRoute, parseJsonBody, queryMetadata, sendNoContent, validateBody as validate } from '../../http-api/api-context';
import type { StateService } from './state.service';
import type { StateSaveItem } from './state.types';

const options = z
  .object({
    concurrency: z.enum(['first-write', 'last-write']).optional(),
    consistency: z.enum(['eventual', 'strong']).optional(),
  })
  .optional();
const metadata = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).nullish();
const etag = z.union([z.string(), z.number()]).transform(String).optional();
const saveItem = z.object({
  key: z.string({ error: 'each item needs a "key" string' }).min(1, 'key must not be empty'),
  value: z.unknown().optional(),
  etag,
  metadata,
  options,
});
const saveBody = z.array(saveItem, { error: 'the body must be a JSON array of {key, value}' });
const bulkBody = z.object({ keys: z.array(z.string()), parallelism: z.number().optional(), metadata });
const txBody = z.object({
  operations: z.array(z.object({ operation: z.string(), request: saveItem })),
  metadata,
});

const BULK_SLICE = 500;

/** daprd's request structs: field names match case-insensitively, as Go's JSON decoder does. */
const SAVE_ITEM = { key: null, value: null, etag: null, metadata: null, options: { concurrency: null, consistency: null } } as const;
const BULK_GET = { keys: null, parallelism: null, metadata: null } as const;
const TRANSACTION = { operations: { operation: null, request: SAVE_ITEM }, metadata: null } as const;

/** `/v1.0/state/...`: thin adapters over {@link StateService}. */
export function stateRoutes(state: StateService, maxBulkKeys = 10_000): ApiRoute[] {
  const h = {
    save: async (ctx: ApiContext): Promise<void> => {
      const items = validate(saveBody, parseJsonBody(await ctx.body(), 'state save', SAVE_ITEM), 'ERR_MALFORMED_REQUEST');
      const extra = queryMetadata(ctx.query);
      await state.save(
        storeOf(ctx),
        items.map((item) => toSaveItem(item, extra)),
      );
      sendNoContent(ctx.res);
    },

    get: async (ctx: ApiContext): Promise<void> => {
      const entry = await state.get(storeOf(ctx), keyOf(ctx));
      if (!entry) return sendNoContent(ctx.res);
      const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': entry.data.length, etag: entry.etag };
      if (entry.metadata) for (const [k, v] of Object.entries(entry.metadata)) headers[`metadata.${k}`] = v;
      ctx.res.writeHead(200, headers);
      ctx.res.end(entry.data);
    },

    bulkGet: async (ctx: ApiContext): Promise<void> => {
      const body = validate(bulkBody, parseJsonBody(await ctx.body(), 'bulk get', BULK_GET), 'ERR_MALFORMED_REQUEST');
      if (body.keys.length > maxBulkKeys) {
        throw new ApiError(400, 'ERR_MALFORMED_REQUEST', `a bulk get may ask for at most ${maxBulkKeys} keys, got ${body.keys.length} (httpApi.maxBulkKeys)`);
      }
      const items = await state.bulkGet(storeOf(ctx), body.keys);
      const parts: string[] = [];
      for (const [i, item] of items.entries()) {
        // Large answers are built in slices, letting other requests (and the app's routes) run between them.
        if (i > 0 && i % BULK_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const fields = [`"key":${JSON.stringify(item.key)}`];
        if (item.data) fields.push(`"data":${embedAsJson(item.data)}`);
        if (item.etag) fields.push(`"etag":${JSON.stringify(item.etag)}`);
        if (item.metadata) fields.push(`"metadata":${JSON.stringify(item.metadata)}`);
        parts.push(`{${fields.join(',')}}`);
      }
      const payload = `[${parts.join(',')}]`;
      ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      ctx.res.end(payload);
    },

    delete: async (ctx: ApiContext): Promise<void> => {
      const ifMatch = ctx.req.headers['if-match'];
      const concurrency = ctx.query.get('concurrency') ?? undefined;
      if (concurrency !== undefined && concurrency !== 'first-write' && concurrency !== 'last-write') {
        throw new ApiError(400, 'ERR_MALFORMED_REQUEST', `concurrency "${concurrency}" must be first-write or last-write`);
      }
      await state.delete(storeOf(ctx), {
        key: keyOf(ctx),
        etag: ifMatch === undefined || ifMatch === '' ? undefined : ifMatch.replace(/^"(.*)"$/, '$1'),
        options: concurrency ? { concurrency } : undefined,
      });
      sendNoContent(ctx.res);
    },

    transaction: async (ctx: ApiContext): Promise<void> => {
      const body = validate(txBody, parseJsonBody(await ctx.body(), 'state transaction', TRANSACTION), 'ERR_MALFORMED_REQUEST');
      const extra = { ...(body.metadata ?? {}), ...queryMetadata(ctx.query) };
      const ops = body.operations.map((op) => {
        if (op.operation !== 'upsert' && op.operation !== 'delete') {
          throw new ApiError(400, 'ERR_NOT_SUPPORTED_STATE_OPERATION', `operation type ${op.operation} not supported (use upsert or delete)`);
        }
        return op.operation === 'upsert'
          ? { operation: 'upsert' as const, request: toSaveItem(op.request, extra) }
          : { operation: 'delete' as const, request: { key: op.request.key, etag: op.request.etag, options: op.request.options } };
      });
      await state.transact(storeOf(ctx), ops);
      sendNoContent(ctx.res);
    },

    query: async (ctx: ApiContext): Promise<void> => {
      const body = await ctx.body();
      let parsed: unknown;
      try {
        parsed = parseJsonBody(body, 'state query');
      } catch (err) {
        throw new ApiError(400, 'ERR_STATE_QUERY', `failed to parse JSON query body: ${(err as Error).message}`);
      }
      const result = await state.query(storeOf(ctx), parseStateQuery(parsed), queryMetadata(ctx.query));
      if (result.results.length === 0) return sendNoContent(ctx.res);
      const items = result.results.map((r) => `{"key":${JSON.stringify(r.key)},"data":${embedAsJson(r.data)},"etag":${JSON.stringify(r.etag)}}`);
      const payload = `{"results":[${items.join(',')}]${result.token === undefined ? '' : `,"token":${JSON.stringify(result.token)}`}}`;
      ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      ctx.res.end(payload);
    },
  };
  const write = ['POST', 'PUT'] as const;
  return [
    { name: 'state.save', methods: write, path: '/v1.0/state/:store', errorCode: 'ERR_STATE_SAVE', handler: h.save },
    { name: 'state.bulkGet', methods: write, path: '/v1.0/state/:store/bulk', errorCode: 'ERR_STATE_BULK_GET', handler: h.bulkGet },
    {
      name: 'state.transaction',
      methods: write,
      path: '/v1.0/state/:store/transaction',
      errorCode: 'ERR_STATE_TRANSACTION',
      // daprd answers a failed ETag check inside a transaction with 500 ERR_STATE_TRANSACTION.
      errorStatus: { ERR_ETAG_MISMATCH: 500, ERR_ETAG_INVALID: 500 },
      handler: h.transaction,
    },
    { name: 'state.query', methods: write, path: '/v1.0-alpha1/state/:store/query', errorCode: 'ERR_STATE_QUERY', handler: h.query },
    // The key is the rest of the path: a key may hold '/' (raw or as %2F).
    { name: 'state.get', methods: ['GET'], path: '/v1.0/state/:store/*', errorCode: 'ERR_STATE_GET', handler: h.get },
    { name: 'state.delete', methods: ['DELETE'], path: '/v1.0/state/:store/*', errorCode: 'ERR_STATE_DELETE', handler: h.delete },
  ];
}

function keyOf(ctx: ApiContext): string {
  return ctx.params['*'] ?? '';
}

function storeOf(ctx: ApiContext): string {
  return ctx.params['store'] ?? '';
}

/**
 * Longest key (URL-encoded) that a GET or DELETE can carry: Node reads at most 16 KiB of request
 * line and headers. A longer key is refused on save, since it could never be read back by URL.
 */
export const MAX_URL_KEY_BYTES = 12 * 1024;

function toSaveItem(item: z.output<typeof saveItem>, extra: Record<string, string>): StateSaveItem {
  if (item.key.length * 3 > MAX_URL_KEY_BYTES && encodeURIComponent(item.key).length > MAX_URL_KEY_BYTES) {
    throw new ApiError(
      400,
      'ERR_MALFORMED_REQUEST',
      `key "${item.key.slice(0, 40)}..." is longer than ${MAX_URL_KEY_BYTES} bytes URL-encoded: it could not be read back by URL`,
    );
  }
  const value = JSON.stringify(item.value ?? null);
  const meta = item.metadata || Object.keys(extra).length > 0 ? { ...(item.metadata ?? {}), ...extra } : undefined;
  return { key: item.key, value, etag: item.etag === '' ? undefined : item.etag, metadata: meta, options: item.options };
}
