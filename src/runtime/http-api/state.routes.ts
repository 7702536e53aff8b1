import { z } from 'zod';
import type { StateService } from '../blocks/state/state.service';
import type { StateSaveItem } from '../blocks/state/state.types';
import { type ApiContext, ApiError, parseJsonBody, queryMetadata, sendNoContent, toApiError } from './api-context';

const options = z
  .object({
    concurrency: z.enum(['first-write', 'last-write']).optional(),
    consistency: z.enum(['eventual', 'strong']).optional(),
  })
  .optional();
const metadata = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).nullish();
const etag = z.union([z.string(), z.number()]).transform(String).optional();
const saveItem = z.object({ key: z.string({ error: 'each item needs a "key" string' }).min(1, 'key must not be empty'), value: z.unknown().optional(), etag, metadata, options });
const saveBody = z.array(saveItem, { error: 'the body must be a JSON array of {key, value}' });
const bulkBody = z.object({ keys: z.array(z.string()), parallelism: z.number().optional(), metadata });
const txBody = z.object({
  operations: z.array(z.object({ operation: z.string(), request: saveItem })),
  metadata,
});

/** `/v1.0/state/...`: thin adapters over {@link StateService}. */
export function stateRoutes(state: StateService) {
  return {
    save: async (ctx: ApiContext): Promise<void> => {
      const items = validate(saveBody, parseJsonBody(await ctx.body(), 'state save'), 'ERR_MALFORMED_REQUEST');
      const extra = queryMetadata(ctx.query);
      try {
        await state.save(storeOf(ctx), items.map((item) => toSaveItem(item, extra)));
      } catch (err) {
        throw toApiError(err, 'ERR_STATE_SAVE');
      }
      sendNoContent(ctx.res);
    },

    get: async (ctx: ApiContext): Promise<void> => {
      let entry;
      try {
        entry = await state.get(storeOf(ctx), ctx.params['key'] ?? '');
      } catch (err) {
        throw toApiError(err, 'ERR_STATE_GET');
      }
      if (!entry) return sendNoContent(ctx.res);
      const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': entry.data.length, etag: entry.etag };
      if (entry.metadata) for (const [k, v] of Object.entries(entry.metadata)) headers[`metadata.${k}`] = v;
      ctx.res.writeHead(200, headers);
      ctx.res.end(entry.data);
    },

    bulkGet: async (ctx: ApiContext): Promise<void> => {
      const body = validate(bulkBody, parseJsonBody(await ctx.body(), 'bulk get'), 'ERR_MALFORMED_REQUEST');
      let items;
      try {
        items = await state.bulkGet(storeOf(ctx), body.keys);
      } catch (err) {
        throw toApiError(err, 'ERR_STATE_BULK_GET');
      }
      const parts = items.map((item) => {
        const fields = [`"key":${JSON.stringify(item.key)}`];
        if (item.data) fields.push(`"data":${embedJson(item.data)}`);
        if (item.etag) fields.push(`"etag":${JSON.stringify(item.etag)}`);
        if (item.metadata) fields.push(`"metadata":${JSON.stringify(item.metadata)}`);
        return `{${fields.join(',')}}`;
      });
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
      try {
        await state.delete(storeOf(ctx), {
          key: ctx.params['key'] ?? '',
          etag: ifMatch === undefined || ifMatch === '' ? undefined : ifMatch.replace(/^"(.*)"$/, '$1'),
          options: concurrency ? { concurrency } : undefined,
        });
      } catch (err) {
        throw toApiError(err, 'ERR_STATE_DELETE');
      }
      sendNoContent(ctx.res);
    },

    transaction: async (ctx: ApiContext): Promise<void> => {
      const body = validate(txBody, parseJsonBody(await ctx.body(), 'state transaction'), 'ERR_MALFORMED_REQUEST');
      const extra = { ...(body.metadata ?? {}), ...queryMetadata(ctx.query) };
      const ops = body.operations.map((op) => {
        if (op.operation !== 'upsert' && op.operation !== 'delete') {
          throw new ApiError(400, 'ERR_NOT_SUPPORTED_STATE_OPERATION', `operation type ${op.operation} not supported (use upsert or delete)`);
        }
        return op.operation === 'upsert'
          ? { operation: 'upsert' as const, request: toSaveItem(op.request, extra) }
          : { operation: 'delete' as const, request: { key: op.request.key, etag: op.request.etag, options: op.request.options } };
      });
      try {
        await state.transact(storeOf(ctx), ops);
      } catch (err) {
        throw toApiError(err, 'ERR_STATE_TRANSACTION');
      }
      sendNoContent(ctx.res);
    },
  };
}

function storeOf(ctx: ApiContext): string {
  return ctx.params['store'] ?? '';
}

function toSaveItem(item: z.output<typeof saveItem>, extra: Record<string, string>): StateSaveItem {
  const value = JSON.stringify(item.value ?? null);
  const meta = item.metadata || Object.keys(extra).length > 0 ? { ...(item.metadata ?? {}), ...extra } : undefined;
  return { key: item.key, value, etag: item.etag === '' ? undefined : item.etag, metadata: meta, options: item.options };
}

function validate<T extends z.ZodType>(schema: T, value: unknown, code: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const reason = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`).join('; ');
  throw new ApiError(400, code, `malformed request: ${reason}`);
}

/** Stored bytes are embedded as raw JSON (as daprd does); bytes that are not JSON become a JSON string. */
function embedJson(data: Buffer): string {
  const text = data.toString('utf8');
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(text);
  }
}
