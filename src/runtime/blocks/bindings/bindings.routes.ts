import { z } from 'zod';
import { type ApiContext, type ApiRoute, parseJsonBody, sendNoContent, traceMetadata, validateBody } from '../../http-api/api-context';
import type { BindingsService } from './bindings.service';

const stringMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).nullish();
const bindingBody = z.object({ data: z.unknown().optional(), metadata: stringMap, operation: z.string().optional() });

/** `/v1.0/bindings/{name}`: output bindings. */
export function bindingsRoutes(bindings: BindingsService): ApiRoute[] {
  const invokeBinding = async (ctx: ApiContext): Promise<void> => {
    const body = validateBody(
      bindingBody,
      parseJsonBody(await ctx.body(), 'binding request', { data: null, metadata: null, operation: null }),
      'ERR_MALFORMED_REQUEST',
      '',
    );
    // daprd re-encodes `data` as JSON: the string "x" reaches the component with its quotes.
    const metadata = { ...traceMetadata(ctx, ''), ...(body.metadata ?? {}) };
    const response = await bindings.invoke(ctx.params['name'] ?? '', body.operation ?? '', Buffer.from(JSON.stringify(body.data ?? null)), metadata);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(response.metadata ?? {})) headers[`metadata.${k}`] = v;
    if (!response.data || response.data.length === 0) return sendNoContent(ctx.res, headers);
    ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': response.data.length, ...headers });
    ctx.res.end(response.data);
  };
  return [{ name: 'bindings.invoke', methods: ['POST', 'PUT'], path: '/v1.0/bindings/:name', errorCode: 'ERR_INVOKE_OUTPUT_BINDING', handler: invokeBinding }];
}
