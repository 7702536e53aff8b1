import { z } from 'zod';
import { type ApiContext, type ApiRoute, parseJsonBody, sendJson, validateBody } from '../../http-api/api-context';
import type { LockService } from './lock.service';

const tryLockBody = z.object({
  resourceId: z.string().default(''),
  lockOwner: z.string().default(''),
  expiryInSeconds: z.number().int('expiryInSeconds must be a whole number of seconds').default(0),
});
const unlockBody = z.object({ resourceId: z.string().default(''), lockOwner: z.string().default('') });

/** daprd's request structs: field names match case-insensitively. */
const TRY_LOCK = { resourceId: null, lockOwner: null, expiryInSeconds: null } as const;
const UNLOCK = { resourceId: null, lockOwner: null } as const;

/**
 * `/v1.0-alpha1/lock/{store}` and `/v1.0-alpha1/unlock/{store}` (and the `/v1.0/` paths newer daprd
 * serves too). A held lock is 200 `{"success":false}`; a grant also carries `fencingToken` (beyond Dapr).
 */
export function lockRoutes(locks: LockService): ApiRoute[] {
  const tryLock = async (ctx: ApiContext): Promise<void> => {
    const body = validateBody(tryLockBody, parseJsonBody(await ctx.body(), 'try lock', TRY_LOCK), 'ERR_MALFORMED_REQUEST');
    const result = await locks.tryLock(ctx.params['store'] ?? '', body);
    sendJson(ctx.res, 200, result.success ? { success: true, fencingToken: result.fencingToken } : { success: false });
  };
  const unlock = async (ctx: ApiContext): Promise<void> => {
    const body = validateBody(unlockBody, parseJsonBody(await ctx.body(), 'unlock', UNLOCK), 'ERR_MALFORMED_REQUEST');
    const result = await locks.unlock(ctx.params['store'] ?? '', body);
    sendJson(ctx.res, 200, { status: result.status });
  };
  const routes: ApiRoute[] = [];
  for (const version of ['v1.0-alpha1', 'v1.0']) {
    routes.push(
      { name: 'lock.tryLock', methods: ['POST'], path: `/${version}/lock/:store`, errorCode: 'ERR_TRY_LOCK', handler: tryLock },
      { name: 'lock.unlock', methods: ['POST'], path: `/${version}/unlock/:store`, errorCode: 'ERR_UNLOCK', handler: unlock },
    );
  }
  return routes;
}
