import { type ApiContext, ApiError, type ApiRoute, header } from '../../http-api/api-context';
import type { InvokeService } from './invoke.service';

const VERBS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

/** `/v1.0/invoke/{appId}/method/{method...}` and the `dapr-app-id` header form (the fallback route). */
export function invokeRoutes(invoke: InvokeService): ApiRoute[] {
  const forward = async (ctx: ApiContext, appId: string, method: string): Promise<void> => {
    if (!appId) {
      throw new ApiError(404, 'ERR_DIRECT_INVOKE', 'failed getting app id either from the URL path or the header dapr-app-id');
    }
    const body = await ctx.body();
    const response = await invoke.invoke(appId, {
      verb: ctx.req.method ?? 'GET',
      method,
      query: ctx.rawQuery,
      headers: ctx.req.headers as Record<string, string | string[]>,
      body,
      viaApi: true,
    });
    ctx.res.writeHead(response.status, { ...response.headers, 'content-length': response.body.length });
    ctx.res.end(response.body);
  };
  return [
    {
      name: 'invoke',
      methods: VERBS,
      path: '/v1.0/invoke/:appId/method/*',
      errorCode: 'ERR_DIRECT_INVOKE',
      handler: (ctx) => forward(ctx, ctx.params['appId'] ?? '', ctx.params['*'] ?? ''),
    },
    {
      name: 'invoke.byHeader',
      methods: VERBS,
      path: '',
      errorCode: 'ERR_DIRECT_INVOKE',
      handler: (ctx) => forward(ctx, header(ctx, 'dapr-app-id') ?? '', ctx.path.replace(/^\/+/, '')),
    },
  ];
}
