import { z } from 'zod';
import { hasActiveSpan } from '../../interception/trace-context';
import {
  type ApiContext,
  ApiError,
  type ApiRoute,
  header,
  parseJsonBody,
  queryMetadata,
  sendJson,
  sendNoContent,
  traceMetadata,
  validateBody,
} from '../../http-api/api-context';
import type { BulkPublishEntry, PubSubService } from './pubsub.service';

const stringMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).nullish();
const bulkBody = z.array(
  z.object({ entryId: z.string().min(1, 'entryId is required'), event: z.unknown(), contentType: z.string().optional(), metadata: stringMap }),
  {
    error: 'the body must be a JSON array of {entryId, event, contentType}',
  },
);

/** daprd's bulk publish entry; `@dapr/dapr` sends `entryID`, which Go's decoder matches to `entryId`. */
const BULK_ENTRY = { entryId: null, event: null, contentType: null, metadata: null } as const;

/** `/v1.0/publish/...` and `/v1.0-alpha1/publish/bulk/...`. */
export function pubsubRoutes(pubsub: PubSubService): ApiRoute[] {
  const h = {
    publish: async (ctx: ApiContext): Promise<void> => {
      const body = await ctx.body();
      await pubsub.publish(ctx.params['pubsub'] ?? '', ctx.params['*'] ?? '', {
        bytes: body,
        contentType: header(ctx, 'content-type'),
        // Tracing on: the event carries the publish span's context (set inside the publish); off: the request's headers, as daprd.
        metadata: { ...(hasActiveSpan() ? {} : traceMetadata(ctx, 'cloudevent.')), ...queryMetadata(ctx.query) },
      });
      sendNoContent(ctx.res);
    },

    bulkPublish: async (ctx: ApiContext): Promise<void> => {
      const parsed = { data: validateBody(bulkBody, parseJsonBody(await ctx.body(), 'bulk publish', BULK_ENTRY), 'ERR_PUBSUB_EVENTS_SER', '') };
      const ids = new Set<string>();
      const query = queryMetadata(ctx.query);
      const entries: BulkPublishEntry[] = parsed.data.map((entry) => {
        if (ids.has(entry.entryId)) throw new ApiError(400, 'ERR_PUBSUB_EVENTS_SER', `entryId ${entry.entryId} is duplicated`);
        ids.add(entry.entryId);
        return {
          entryId: entry.entryId,
          bytes: eventBytes(entry.event, entry.contentType ?? 'application/json', entry.entryId),
          contentType: entry.contentType,
          metadata: { ...query, ...(entry.metadata ?? {}) },
        };
      });
      const result = await pubsub.bulkPublish(ctx.params['pubsub'] ?? '', ctx.params['*'] ?? '', entries);
      if (result.failedEntries.length === 0) return sendNoContent(ctx.res);
      sendJson(ctx.res, 500, { failedEntries: result.failedEntries, errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE' });
    },
  };
  const write = ['POST', 'PUT'] as const;
  return [
    { name: 'pubsub.publish', methods: write, path: '/v1.0/publish/:pubsub/*', errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE', handler: h.publish },
    {
      name: 'pubsub.bulkPublish',
      methods: write,
      path: '/v1.0-alpha1/publish/bulk/:pubsub/*',
      errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE',
      handler: h.bulkPublish,
    },
    { name: 'pubsub.bulkPublish', methods: write, path: '/v1.0/publish/bulk/:pubsub/*', errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE', handler: h.bulkPublish },
  ];
}

/** A bulk entry's event as bytes: base64 for octet-stream, a string for text, JSON otherwise. */
function eventBytes(event: unknown, contentType: string, entryId: string): Buffer {
  if (contentType.startsWith('application/octet-stream')) {
    if (typeof event !== 'string')
      throw new ApiError(400, 'ERR_PUBSUB_EVENTS_SER', `entry ${entryId}: an application/octet-stream event must be a base64 string`);
    return Buffer.from(event, 'base64');
  }
  if (contentType.startsWith('text/')) {
    if (typeof event !== 'string') throw new ApiError(400, 'ERR_PUBSUB_EVENTS_SER', `entry ${entryId}: a ${contentType} event must be a string`);
    return Buffer.from(event);
  }
  if (/json/i.test(contentType)) return Buffer.from(JSON.stringify(event ?? null));
  throw new ApiError(
    400,
    'ERR_PUBSUB_EVENTS_SER',
    `entry ${entryId}: content type ${contentType} is not supported (use JSON, text or application/octet-stream)`,
  );
}
