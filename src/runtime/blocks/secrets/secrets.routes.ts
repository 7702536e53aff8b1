import { type ApiContext, type ApiRoute, queryMetadata, sendJson } from '../../http-api/api-context';
import type { SecretsService } from './secrets.service';

/**
 * `/v1.0/secrets/...`, as daprd serves it: `GET {store}/{key}` → `{ "<key>": "<value>", ... }`,
 * `GET {store}/bulk` → `{ "<secret>": { "<key>": "<value>" } }`; `metadata.*` query parameters go to
 * the store. Since `bulk` is its own route, a secret named `bulk` cannot be read over HTTP (as with
 * daprd). A key may hold `/` (raw or `%2F`), for stores with paths (Vault).
 */
export function secretsRoutes(secrets: SecretsService): ApiRoute[] {
  const get = async (ctx: ApiContext): Promise<void> => {
    const values = await secrets.get(ctx.params['store'] ?? '', ctx.params['*'] ?? '', queryMetadata(ctx.query));
    sendJson(ctx.res, 200, values);
  };
  const bulk = async (ctx: ApiContext): Promise<void> => {
    sendJson(ctx.res, 200, await secrets.getBulk(ctx.params['store'] ?? '', queryMetadata(ctx.query)));
  };
  return [
    { name: 'secrets.bulkGet', methods: ['GET'], path: '/v1.0/secrets/:store/bulk', errorCode: 'ERR_SECRET_GET', handler: bulk },
    { name: 'secrets.get', methods: ['GET'], path: '/v1.0/secrets/:store/*', errorCode: 'ERR_SECRET_GET', handler: get },
  ];
}
