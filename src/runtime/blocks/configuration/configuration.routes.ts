import { errorMessage, SidekickError } from '../../../errors/sidekick.error';
import type { ConfigurationItem, ConfigurationItems } from '../../../spi/configuration.store';
import { type ApiContext, type ApiRoute, queryMetadata, sendJson, sendNoContent } from '../../http-api/api-context';
import type { InvokeService } from '../invoke/invoke.service';
import type { ConfigurationChange, ConfigurationService } from './configuration.service';

/** daprd serves the configuration API under both prefixes. */
const PREFIXES = ['/v1.0', '/v1.0-alpha1'] as const;

/**
 * `/v1.0/configuration/...` (and `/v1.0-alpha1/...`), as daprd: GET items, subscribe (updates are
 * POSTed to the app's `/configuration/{store}/{key}`, dispatched in-process), unsubscribe.
 */
export function configurationRoutes(
  config: ConfigurationService,
  invoke: InvokeService,
  appId: string,
  logger: { error(obj: object, msg?: string): void },
): ApiRoute[] {
  const get = async (ctx: ApiContext): Promise<void> => {
    const items = await config.get(storeOf(ctx), ctx.query.getAll('key'), queryMetadata(ctx.query));
    if (Object.keys(items).length === 0) return sendNoContent(ctx.res);
    sendJson(ctx.res, 200, asDaprItems(items));
  };

  const subscribe = async (ctx: ApiContext): Promise<void> => {
    const store = storeOf(ctx);
    // As daprd: every changed key is POSTed to the app with the whole update; a non-200 reply is logged.
    const toApp = async (change: ConfigurationChange): Promise<void> => {
      const body = Buffer.from(JSON.stringify({ id: change.id, items: asDaprItems(change.items) }));
      for (const key of Object.keys(change.items)) {
        const method = `configuration/${encodeURIComponent(store)}/${encodeURIComponent(key)}`;
        try {
          const res = await invoke.invoke(appId, { verb: 'POST', method, headers: { 'content-type': 'application/json' }, body });
          if (res.status !== 200)
            logger.error({ store, key, status: res.status }, `error sending configuration item to the app: POST /${method} answered ${res.status}`);
        } catch (err) {
          logger.error({ err, store, key }, `error sending configuration item to the app: ${errorMessage(err)}`);
        }
      }
    };
    const sub = await config.subscribe(store, ctx.query.getAll('key'), toApp, queryMetadata(ctx.query), 'http');
    sendJson(ctx.res, 200, { id: sub.id });
  };

  const unsubscribe = async (ctx: ApiContext): Promise<void> => {
    const store = storeOf(ctx);
    const id = ctx.params['id'] ?? '';
    try {
      await config.unsubscribe(store, id);
    } catch (err) {
      // daprd answers a failed unsubscribe with its own body, not the error shape (an unknown store still gets the error shape).
      if (err instanceof SidekickError && err.code === 'ERR_CONFIGURATION_UNSUBSCRIBE') return sendJson(ctx.res, 500, { ok: false, message: err.message });
      throw err;
    }
    sendJson(ctx.res, 200, { ok: true });
  };

  return PREFIXES.flatMap((prefix): ApiRoute[] => [
    { name: 'configuration.get', methods: ['GET'], path: `${prefix}/configuration/:store`, errorCode: 'ERR_CONFIGURATION_GET', handler: get },
    {
      name: 'configuration.subscribe',
      methods: ['GET'],
      path: `${prefix}/configuration/:store/subscribe`,
      errorCode: 'ERR_CONFIGURATION_SUBSCRIBE',
      handler: subscribe,
    },
    {
      name: 'configuration.unsubscribe',
      methods: ['GET'],
      path: `${prefix}/configuration/:store/:id/unsubscribe`,
      errorCode: 'ERR_CONFIGURATION_UNSUBSCRIBE',
      handler: unsubscribe,
    },
  ]);
}

function storeOf(ctx: ApiContext): string {
  return ctx.params['store'] ?? '';
}

/** daprd's JSON of items (Go's omitempty: an empty value, version or metadata is left out; a deleted key is `{}`). */
export function asDaprItems(items: ConfigurationItems): Record<string, Partial<ConfigurationItem>> {
  const out: Record<string, Partial<ConfigurationItem>> = {};
  for (const [key, item] of Object.entries(items)) {
    const entry: { value?: string; version?: string; metadata?: Readonly<Record<string, string>> } = {};
    if (item.value !== '') entry.value = item.value;
    if (item.version !== '') entry.version = item.version;
    if (Object.keys(item.metadata).length > 0) entry.metadata = item.metadata;
    out[key] = entry;
  }
  return out;
}
