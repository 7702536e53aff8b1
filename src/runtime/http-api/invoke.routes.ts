import type { InvokeService } from '../blocks/invoke/invoke.service';
import { type ApiContext, ApiError, type RouteHandler, toApiError } from './api-context';

/** `/v1.0/invoke/{appId}/method/{method...}` and the `dapr-app-id` header form. */
export function invokeRoutes(invoke: InvokeService): { byPath: RouteHandler; byHeader: (ctx: ApiContext, path: string) => Promise<void> } {
  const forward = async (ctx: ApiContext, appId: string, method: string): Promise<void> => {
    if (!appId) {
      throw new ApiError(404, 'ERR_DIRECT_INVOKE', 'failed getting app id either from the URL path or the header dapr-app-id');
    }
    const body = await ctx.body();
    let response;
    try {
      response = await invoke.invoke(appId, {
        verb: ctx.req.method ?? 'GET',
        method,
        query: ctx.rawQuery,
        headers: ctx.req.headers as Record<string, string | string[]>,
        body,
      });
    } catch (err) {
      throw toApiError(err, 'ERR_DIRECT_INVOKE');
    }
    ctx.res.writeHead(response.status, { ...response.headers, 'content-length': response.body.length });
    ctx.res.end(response.body);
  };
  return {
    byPath: (ctx) => forward(ctx, ctx.params['appId'] ?? '', ctx.params['*'] ?? ''),
    byHeader: (ctx, path) => {
      const header = ctx.req.headers['dapr-app-id'];
      return forward(ctx, Array.isArray(header) ? (header[0] ?? '') : (header ?? ''), path.replace(/^\/+/, ''));
    },
  };
}
