import { z } from 'zod';
import type { BindingsService } from '../blocks/bindings/bindings.service';
import type { BulkPublishEntry, PubSubService } from '../blocks/pubsub/pubsub.service';
import { type ApiContext, ApiError, parseJsonBody, queryMetadata, sendJson, sendNoContent, toApiError } from './api-context';

const stringMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).nullish();
const bulkBody = z.array(z.object({ entryId: z.string().min(1, 'entryId is required'), event: z.unknown(), contentType: z.string().optional(), metadata: stringMap }), {
  error: 'the body must be a JSON array of {entryId, event, contentType}',
});
const bindingBody = z.object({ data: z.unknown().optional(), metadata: stringMap, operation: z.string().optional() });

/** `/v1.0/publish/...`, `/v1.0-alpha1/publish/bulk/...` and `/v1.0/bindings/{name}`. */
export function pubsubRoutes(pubsub: PubSubService, bindings: BindingsService) {
  return {
    publish: async (ctx: ApiContext): Promise<void> => {
      const body = await ctx.body();
      try {
        await pubsub.publish(ctx.params['pubsub'] ?? '', ctx.params['*'] ?? '', {
          bytes: body,
          contentType: header(ctx, 'content-type'),
          metadata: { ...traceMetadata(ctx, 'cloudevent.'), ...queryMetadata(ctx.query) },
        });
      } catch (err) {
        throw toApiError(err, 'ERR_PUBSUB_PUBLISH_MESSAGE');
      }
      sendNoContent(ctx.res);
    },

    bulkPublish: async (ctx: ApiContext): Promise<void> => {
      const parsed = bulkBody.safeParse(parseJsonBody(await ctx.body(), 'bulk publish'));
      if (!parsed.success) throw new ApiError(400, 'ERR_PUBSUB_EVENTS_SER', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      const ids = new Set<string>();
      const query = queryMetadata(ctx.query);
      const entries: BulkPublishEntry[] = parsed.data.map((entry) => {
        if (ids.has(entry.entryId)) throw new ApiError(400, 'ERR_PUBSUB_EVENTS_SER', `entryId ${entry.entryId} is duplicated`);
        ids.add(entry.entryId);
        return { entryId: entry.entryId, bytes: eventBytes(entry.event, entry.contentType ?? 'application/json', entry.entryId), contentType: entry.contentType, metadata: { ...query, ...(entry.metadata ?? {}) } };
      });
      let result;
      try {
        result = await pubsub.bulkPublish(ctx.params['pubsub'] ?? '', ctx.params['*'] ?? '', entries);
      } catch (err) {
        throw toApiError(err, 'ERR_PUBSUB_PUBLISH_MESSAGE');
      }
      if (result.failedEntries.length === 0) return sendNoContent(ctx.res);
      sendJson(ctx.res, 500, { failedEntries: result.failedEntries, errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE' });
    },

    invokeBinding: async (ctx: ApiContext): Promise<void> => {
      const parsed = bindingBody.safeParse(parseJsonBody(await ctx.body(), 'binding request'));
      if (!parsed.success) throw new ApiError(400, 'ERR_MALFORMED_REQUEST', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      let response;
      try {
        // daprd re-encodes `data` as JSON: the string "x" reaches the component with its quotes.
        const metadata = { ...traceMetadata(ctx, ''), ...(parsed.data.metadata ?? {}) };
        response = await bindings.invoke(ctx.params['name'] ?? '', parsed.data.operation ?? '', Buffer.from(JSON.stringify(parsed.data.data ?? null)), metadata);
      } catch (err) {
        throw toApiError(err, 'ERR_INVOKE_OUTPUT_BINDING');
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(response.metadata ?? {})) headers[`metadata.${k}`] = v;
      if (!response.data || response.data.length === 0) return sendNoContent(ctx.res, headers);
      ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': response.data.length, ...headers });
      ctx.res.end(response.data);
    },
  };
}

/** W3C trace context of the request (`traceparent`, `tracestate`, `baggage`), as daprd carries it into events and bindings. */
function traceMetadata(ctx: ApiContext, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['traceparent', 'tracestate', 'baggage']) {
    const value = header(ctx, name);
    if (value) out[`${prefix}${name}`] = value;
  }
  return out;
}

function header(ctx: ApiContext, name: string): string | undefined {
  const value = ctx.req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A bulk entry's event as bytes: base64 for octet-stream, a string for text, JSON otherwise. */
function eventBytes(event: unknown, contentType: string, entryId: string): Buffer {
  if (contentType.startsWith('application/octet-stream')) {
    if (typeof event !== 'string') throw new ApiError(400, 'ERR_PUBSUB_EVENTS_SER', `entry ${entryId}: an application/octet-stream event must be a base64 string`);
    return Buffer.from(event, 'base64');
  }
  if (contentType.startsWith('text/')) {
    if (typeof event !== 'string') throw new ApiError(400, 'ERR_PUBSUB_EVENTS_SER', `entry ${entryId}: a ${contentType} event must be a string`);
    return Buffer.from(event);
  }
  if (/json/i.test(contentType)) return Buffer.from(JSON.stringify(event ?? null));
  throw new ApiError(400, 'ERR_PUBSUB_EVENTS_SER', `entry ${entryId}: content type ${contentType} is not supported (use JSON, text or application/octet-stream)`);
}
