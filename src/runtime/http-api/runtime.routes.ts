import type { Readiness } from '../readiness';
import { type ApiContext, ApiError, type ApiRoute, sendJson, sendNoContent } from './api-context';

export const RUNTIME_VERSION = 'sidekick-0.1.0';

/** Bounds of `PUT /v1.0/metadata/{key}` (daprd has none; unbounded, it is a way to fill the memory). */
export const MAX_METADATA_ENTRIES = 100;
export const MAX_METADATA_KEY = 256;
export const MAX_METADATA_VALUE_BYTES = 64 * 1024;

/** A component as `/v1.0/metadata` lists it. */
export interface ComponentInfo {
  readonly name: string;
  readonly type: string;
  readonly version: string;
  readonly capabilities: readonly string[];
}

/** What the health and metadata routes read: not the runtime, only these. */
export interface RuntimeInfo {
  readonly appId: string;
  readonly readiness: Readiness;
  components(): readonly ComponentInfo[];
  /** The blocks' parts of the metadata document, merged in list order (arrays are concatenated). */
  contributions(): readonly Readonly<Record<string, unknown>>[];
  /** `POST /v1.0/shutdown`: begins a graceful shutdown of the app (after the answer is sent). */
  requestShutdown(): void;
}

/** `/v1.0/healthz`, `/v1.0/healthz/outbound`, `/v1.0/metadata`. */
export function runtimeRoutes(info: RuntimeInfo): ApiRoute[] {
  const { readiness, appId } = info;
  const extended = new Map<string, string>();
  const healthz = async (ctx: ApiContext): Promise<void> => {
    if (!readiness.ready) throw new ApiError(500, 'ERR_HEALTH_NOT_READY', 'dapr is not ready: [components]');
    const asked = ctx.query.get('appid');
    if (asked !== null && asked !== appId) {
      throw new ApiError(500, 'ERR_HEALTH_APPID_NOT_MATCH', `dapr app-id does not match: asked ${asked}, this is ${appId}`);
    }
    sendNoContent(ctx.res);
  };
  const outbound = async (ctx: ApiContext): Promise<void> => {
    if (!readiness.ready) throw new ApiError(500, 'ERR_OUTBOUND_HEALTH_NOT_READY', 'dapr outbound is not ready');
    sendNoContent(ctx.res);
  };
  const metadata = async (ctx: ApiContext): Promise<void> => {
    const doc: Record<string, unknown> = {
      id: appId,
      runtimeVersion: RUNTIME_VERSION,
      enabledFeatures: [],
      actors: [],
      components: info.components(),
      extended: { daprRuntimeVersion: RUNTIME_VERSION, ...Object.fromEntries(extended) },
      subscriptions: [],
      httpEndpoints: [],
      actorRuntime: { runtimeStatus: 'DISABLED', activeActors: [], hostReady: false, placement: '' },
    };
    for (const part of info.contributions()) {
      for (const [field, value] of Object.entries(part)) {
        const current = doc[field];
        doc[field] = Array.isArray(current) && Array.isArray(value) ? [...(current as unknown[]), ...(value as unknown[])] : value;
      }
    }
    sendJson(ctx.res, 200, doc);
  };
  const putMetadata = async (ctx: ApiContext): Promise<void> => {
    const key = ctx.params['key'] ?? '';
    const value = (await ctx.body()).toString('utf8');
    if (key.length > MAX_METADATA_KEY || Buffer.byteLength(value) > MAX_METADATA_VALUE_BYTES) {
      throw new ApiError(
        400,
        'ERR_MALFORMED_REQUEST',
        `custom metadata keys are at most ${MAX_METADATA_KEY} characters and values at most ${MAX_METADATA_VALUE_BYTES} bytes`,
      );
    }
    if (!extended.has(key) && extended.size >= MAX_METADATA_ENTRIES) {
      throw new ApiError(400, 'ERR_MALFORMED_REQUEST', `at most ${MAX_METADATA_ENTRIES} custom metadata entries can be set`);
    }
    extended.set(key, value);
    sendNoContent(ctx.res);
  };
  const shutdown = async (ctx: ApiContext): Promise<void> => {
    ctx.res.once('finish', () => setImmediate(() => info.requestShutdown()));
    sendNoContent(ctx.res);
  };
  return [
    { name: 'shutdown', methods: ['POST'], path: '/v1.0/shutdown', errorCode: 'ERR_SHUTDOWN', handler: shutdown },
    { name: 'healthz', methods: ['GET'], path: '/v1.0/healthz', errorCode: 'ERR_HEALTH_NOT_READY', public: true, handler: healthz },
    { name: 'healthz.outbound', methods: ['GET'], path: '/v1.0/healthz/outbound', errorCode: 'ERR_OUTBOUND_HEALTH_NOT_READY', public: true, handler: outbound },
    { name: 'metadata.get', methods: ['GET'], path: '/v1.0/metadata', errorCode: 'ERR_METADATA_GET', handler: metadata },
    { name: 'metadata.put', methods: ['PUT'], path: '/v1.0/metadata/:key', errorCode: 'ERR_METADATA_SET', handler: putMetadata },
  ];
}
