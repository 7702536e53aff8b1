import { InvokeError } from '../../../errors/invoke.errors';
import { errorMessage } from '../../../errors/sidekick.error';
import { withDeadline } from '../../../spi/clock';
import type { NameResolver } from '../../../spi/name-resolver';
import type { SidekickLogger } from '../../../spi/logger';
import { type Interception, NO_INTERCEPTION } from '../../interception/interception';
import { injectTraceContext } from '../../interception/trace-context';
import { APP_ID_RULE, isValidAppId } from './app-id';
import { dispatchInProcess, type InProcessRequest, type RequestListener } from './in-process.dispatcher';
import type { HeaderMap, InvokeRequest, InvokeResponse } from './invoke.types';

/** Headers that are never forwarded (hop-by-hop, or Dapr's own). */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'host',
  'dapr-app-id',
  'dapr-api-token',
  // `Expect: 100-continue` (curl adds it above 1 MiB) was answered by this hop; undici refuses to send it.
  'expect',
]);

/**
 * Something that answers this app's requests: an Express app (a request listener) or a Fastify
 * instance in-process, or, in sidecar mode, the HTTP channel to the app (`forward`).
 */
export type SelfDispatcher = RequestListener | { inject: (opts: object) => Promise<FastifyResponse> } | AppForwarder;

/** Sends a request to the app in another process (the app channel of sidecar mode). */
export interface AppForwarder {
  forward(req: InProcessRequest): Promise<InvokeResponse>;
  /** Undefined when the app may be called now; else what to wait for (a delivery) or the refusal (an invocation). */
  admit?(delivery: boolean): Promise<void> | undefined;
}

interface FastifyResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  readonly rawPayload: Buffer;
}

/**
 * Service invocation. A call to this app's own id is dispatched in-process (no socket, no network
 * hop); other ids are found through the name resolvers and called over HTTP. The target's status,
 * headers and body come back unchanged.
 */
export class InvokeService {
  private self?: SelfDispatcher;

  constructor(
    private readonly appId: string,
    private readonly resolvers: readonly NameResolver[],
    private readonly timeoutMs: number,
    private readonly logger: SidekickLogger,
    private readonly interception: Interception = NO_INTERCEPTION,
  ) {}

  private undici?: Promise<typeof import('undici')>;

  /** Set at bootstrap once the app's HTTP adapter exists. */
  setSelfDispatcher(dispatcher: SelfDispatcher | undefined): void {
    this.self = dispatcher;
  }

  /** Calls `req.method` on app `appId`; the target's status, headers and body come back unchanged. */
  invoke(appId: string, req: InvokeRequest): Promise<InvokeResponse> {
    if (!isValidAppId(appId)) {
      return Promise.reject(new InvokeError(appId.slice(0, 64), `invalid app id: use ${APP_ID_RULE}`, { httpStatus: 400 }));
    }
    if (!this.interception.active('invoke')) return this.send(appId, req);
    // `local: 'api'` tells tracing that the API's server span is this call's span (no client span under it).
    const attributes: Readonly<Record<string, string>> = req.viaApi === true && appId === this.appId ? { verb: req.verb, local: 'api' } : { verb: req.verb };
    const call = { kind: 'invoke' as const, target: appId, type: 'app', operation: req.method, attributes };
    return this.interception.run(call, () => this.send(appId, req));
  }

  private async send(appId: string, req: InvokeRequest): Promise<InvokeResponse> {
    const headers = forwardHeaders(req.headers, this.appId, appId);
    // W3C trace context of the active span (the invoke span when tracing is on); else the caller's is forwarded as is.
    injectTraceContext(headers);
    const path = `/${normalizeMethod(req.method)}${req.query ? `?${req.query}` : ''}`;
    if (appId === this.appId) return this.dispatchSelf(path, req, headers);
    const address = await this.resolve(appId);
    // undici is loaded on the first call to another app: an app that only calls itself never pays for it (~125 ms, 18 MB).
    const { request } = await (this.undici ??= import('undici'));
    try {
      const res = await request(address + path, {
        method: req.verb as 'GET',
        headers,
        body: req.body && req.body.length > 0 ? req.body : undefined,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: cleanHeaders(res.headers), body };
    } catch (err) {
      const code = (err as { code?: string }).code;
      const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
      // The target's address stays in the log: callers of the API learn only that the app failed.
      this.logger.warn({ appId, address, err: errorMessage(err) }, 'invocation of another app failed');
      throw new InvokeError(appId, timedOut ? `timed out after ${this.timeoutMs} ms` : `the app could not be reached (${code ?? 'connection error'})`, {
        retryable: true,
        cause: err,
      });
    }
  }

  private async resolve(appId: string): Promise<string> {
    for (const resolver of this.resolvers) {
      const found = await resolver.resolve(appId);
      if (found) return found.baseUrl;
    }
    throw new InvokeError(appId, `app id not found by name resolution (tried ${this.resolvers.map((r) => r.name).join(', ') || 'no resolvers'})`);
  }

  private async dispatchSelf(path: string, req: InvokeRequest, headers: HeaderMap): Promise<InvokeResponse> {
    const self = this.self;
    if (!self) throw new InvokeError(this.appId, 'this app has no HTTP routes to invoke (no HTTP adapter)');
    // Behind the sidecar, an unhealthy app (periodic health checks): deliveries wait before their deadline starts, invocations are refused.
    const admitted = typeof self === 'object' && 'admit' in self ? self.admit?.(req.delivery === true) : undefined;
    if (admitted) await admitted;
    const work: Promise<InvokeResponse> =
      typeof self === 'function'
        ? dispatchInProcess(self, { method: req.verb, url: path, headers, body: req.body })
        : 'forward' in self
          ? self.forward({ method: req.verb, url: path, headers, body: req.body })
          : self.inject({ method: req.verb, url: path, headers, payload: req.body ?? '' }).then((res) => ({
              status: res.statusCode,
              headers: cleanHeaders(res.headers),
              body: res.rawPayload,
            }));
    return withDeadline(
      this.timeoutMs,
      () => work,
      () => new InvokeError(this.appId, `timed out after ${this.timeoutMs} ms`),
    );
  }
}

/**
 * The method path with `.` and `..` segments resolved once, the same way for this app and for others
 * (undici would resolve them for remote apps only), and never above the target's base path: `..`
 * at the top is dropped, as Go's path.Clean does. Encoded dots (`%2e`) count as dots.
 */
export function normalizeMethod(method: string): string {
  // The common case (no dot, no escape, no empty segment but a trailing one) is already normal.
  if (!method.startsWith('/') && !method.includes('.') && !method.includes('%') && !method.includes('//')) return method;
  const out: string[] = [];
  const segments = method.split('/');
  for (const [i, segment] of segments.entries()) {
    const plain = segment.replace(/%2e/gi, '.');
    if (plain === '..') out.pop();
    else if (plain === '.' || (segment === '' && i < segments.length - 1)) continue;
    else out.push(segment);
  }
  return out.join('/');
}

function forwardHeaders(input: Readonly<HeaderMap> | undefined, caller: string, callee: string): HeaderMap {
  const out: HeaderMap = {};
  if (input) {
    for (const [name, value] of Object.entries(input)) {
      const lower = name.toLowerCase();
      if (!DROPPED.has(lower)) out[lower] = value;
    }
  }
  out['dapr-caller-app-id'] = caller;
  out['dapr-callee-app-id'] = callee;
  return out;
}

function cleanHeaders(input: Record<string, string | string[] | number | undefined>): HeaderMap {
  const out: HeaderMap = {};
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined || name === 'transfer-encoding' || name === 'connection' || name === 'keep-alive') continue;
    out[name] = typeof value === 'number' ? String(value) : value;
  }
  return out;
}
