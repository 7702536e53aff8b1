import { connect } from 'node:net';
import { type BulkheadPolicy, bulkhead } from 'cockatiel';
import type { Dispatcher } from 'undici';
import type { DeclarativeSubscription } from '../../config/subscription.loader';
import { InvokeError } from '../../errors/invoke.errors';
import { errorMessage } from '../../errors/sidekick.error';
import type { SidekickLogger } from '../../spi/logger';
import type { InProcessRequest } from '../blocks/invoke/in-process.dispatcher';
import type { HeaderMap, InvokeResponse } from '../blocks/invoke/invoke.types';
import type { ResolvedOptions } from '../sidekick.options';
import { type AppActorConfig, parseAppActorConfig } from './app-actors';
import { AppHealthMonitor } from './app-health';
import { parseAppSubscriptions } from './app-subscriptions';

export type ResolvedAppChannel = NonNullable<ResolvedOptions['appChannel']>;

export type { AppActorConfig } from './app-actors';

/** The app stopped being waited for (the sidecar is shutting down). */
export class AppChannelClosedError extends Error {
  constructor() {
    super('the app channel was closed before the app was ready');
  }
}

/** Waits `ms`, or less when `signal` aborts (its listener is removed either way). */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((ok) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      ok();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      ok();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

/**
 * The HTTP channel to an app in another process (sidecar mode), as daprd's app channel: it waits
 * for the app's port (and health path), reads `GET /dapr/subscribe` and `GET /dapr/config`, and
 * sends requests to the app (invocations of this app id, events, input bindings) on kept-alive
 * connections. The building blocks deliver through it instead of dispatching in-process.
 */
export class AppChannel {
  readonly url: string;
  private readonly closed = new AbortController();
  private readyPromise?: Promise<void>;
  /** The path of `url` (`''` for an origin): prefixed to every request's path. */
  private readonly basePath: string;
  private dispatcher?: Promise<{ undici: typeof import('undici'); pool: Dispatcher }>;
  /** Periodic app health checks (daprd's `--enable-app-health-check`); undefined when off. */
  readonly health?: AppHealthMonitor;
  /** daprd's `--app-max-concurrency`: requests beyond the limit wait in an unbounded queue, in arrival order; undefined: no limit. */
  private readonly limit?: BulkheadPolicy;

  constructor(
    private readonly options: ResolvedAppChannel,
    private readonly appId: string,
    private readonly logger: SidekickLogger,
  ) {
    this.url = options.url;
    this.basePath = new URL(options.url).pathname.replace(/\/+$/, '');
    if (options.maxConcurrency !== undefined) this.limit = bulkhead(options.maxConcurrency, Infinity);
    if (options.healthCheck) {
      const settings = { path: options.healthCheckPath ?? '/healthz', ...options.healthCheck };
      this.health = new AppHealthMonitor(settings, (path, timeoutMs) => this.probeHealth(path, timeoutMs), logger, appId);
    }
  }

  /**
   * Whether a request may go to the app now (daprd's app health): undefined while the app is healthy
   * (or health checks are off). While it is unhealthy, a delivery (`delivery`: a pub/sub event)
   * gets a promise that resolves once the app is healthy again, and an invocation is refused with
   * daprd's error, 500 `ERR_DIRECT_INVOKE` "app is not in a healthy state".
   */
  admit(delivery: boolean): Promise<void> | undefined {
    const health = this.health;
    if (!health || health.isHealthy) return undefined;
    if (delivery) return health.whenHealthy();
    return Promise.reject(new InvokeError(this.appId, 'app is not in a healthy state', { httpStatus: 500 }));
  }

  /** Stops the periodic health checks; deliveries waiting for the app to recover fail (shutdown). */
  async stopHealthChecks(): Promise<void> {
    await this.health?.stop();
  }

  /**
   * Resolves once the app accepts connections (and its health path answers 2xx); rejects with
   * {@link AppChannelClosedError} if the channel is closed, or `signal` aborted, first.
   */
  ready(signal?: AbortSignal): Promise<void> {
    const ready = (this.readyPromise ??= this.waitReady());
    if (!signal) return ready;
    return new Promise<void>((ok, fail) => {
      if (signal.aborted) return fail(new AppChannelClosedError());
      const onAbort = (): void => fail(new AppChannelClosedError());
      signal.addEventListener('abort', onAbort, { once: true });
      void ready.then(ok, fail).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /**
   * Runs `fn` in the background once the app is ready (a block's deliveries start then, while the
   * Dapr HTTP API already serves the app). A failure is logged. `cancel()` stops waiting, and waits
   * for a `fn` already running.
   */
  afterReady(what: string, fn: () => Promise<void>): { cancel(): Promise<void> } {
    const abort = new AbortController();
    const task = this.ready(abort.signal)
      .then(fn)
      .catch((err: unknown) => {
        if (!(err instanceof AppChannelClosedError)) this.logger.error({ appId: this.appId, err: errorMessage(err) }, `${what} failed`);
      });
    return {
      cancel: async () => {
        abort.abort();
        await task;
      },
    };
  }

  /**
   * One request to the app; its status, headers and body come back unchanged. Sent on the app's
   * connection pool with undici's low-level `dispatch` (no URL parsing, no body stream per request:
   * the answer is collected in one pass), the sidecar hop's hot path. With `maxConcurrency`, at most that
   * many are in flight to the app; the others wait their turn (as daprd queues them, none fails for it).
   */
  forward(req: InProcessRequest): Promise<InvokeResponse> {
    return this.limit ? this.limit.execute(() => this.send(req)) : this.send(req);
  }

  private async send(req: InProcessRequest): Promise<InvokeResponse> {
    // The pool once made (every call after the first): no await on the hot path.
    const { undici, pool } = this.loaded ?? (this.loaded = await this.client());
    return new Promise<InvokeResponse>((resolve, reject) => {
      pool.dispatch(
        {
          path: this.basePath + req.url,
          method: req.method.toUpperCase() as Dispatcher.HttpMethod,
          headers: this.options.apiToken ? { ...req.headers, 'dapr-api-token': this.options.apiToken } : (req.headers as Record<string, string | string[]>),
          body: req.body && req.body.length > 0 ? req.body : null,
        },
        new CollectingHandler(undici.util.parseHeaders, resolve, reject),
      );
    });
  }

  /** The app's subscriptions (`GET /dapr/subscribe`, v1 and v2 shapes); none when it answers 404 or no JSON array. */
  async subscriptions(): Promise<DeclarativeSubscription[]> {
    const res = await this.getJson('/dapr/subscribe');
    if (res === undefined) return [];
    const { subscriptions, skipped } = parseAppSubscriptions(res);
    for (const reason of skipped) this.logger.warn({ appId: this.appId }, reason);
    return subscriptions;
  }

  /** `GET /dapr/config` (actor types and settings, see app-actors.ts); undefined when the app has none. */
  async config(): Promise<AppActorConfig | undefined> {
    const res = await this.getJson('/dapr/config');
    return res === undefined ? undefined : parseAppActorConfig(res);
  }

  async close(): Promise<void> {
    this.closed.abort();
    await this.stopHealthChecks();
    const client = this.dispatcher;
    this.dispatcher = undefined;
    this.loaded = undefined;
    if (client) await (await client).pool.close();
  }

  private async getJson(path: string): Promise<unknown> {
    let res: InvokeResponse;
    try {
      res = await this.forward({ method: 'GET', url: path, headers: { 'dapr-app-id': this.appId } });
    } catch (err) {
      this.logger.warn({ appId: this.appId, err: errorMessage(err) }, `${path}: the app could not be reached`);
      return undefined;
    }
    if (res.status === 404) return undefined;
    if (res.status < 200 || res.status >= 300) {
      this.logger.warn({ appId: this.appId, status: res.status }, `${path} answered ${res.status}: ignored`);
      return undefined;
    }
    try {
      return JSON.parse(res.body.toString('utf8'));
    } catch {
      this.logger.warn({ appId: this.appId }, `${path} did not answer JSON: ignored`);
      return undefined;
    }
  }

  /** The client once `client()` resolved (undefined again after close). */
  private loaded?: { undici: typeof import('undici'); pool: Dispatcher };

  private client(): Promise<{ undici: typeof import('undici'); pool: Dispatcher }> {
    this.dispatcher ??= import('undici').then((undici) => ({
      undici,
      pool: new undici.Pool(new URL(this.url).origin, { keepAliveTimeout: 10_000, connections: 128 }),
    }));
    return this.dispatcher;
  }

  private async waitReady(): Promise<void> {
    const { hostname, port } = new URL(this.url);
    const signal = this.closed.signal;
    const started = Date.now();
    let nextLog = 2_000;
    const health = this.options.healthCheckPath;
    for (;;) {
      if (signal.aborted) throw new AppChannelClosedError();
      const problem = await this.probe(hostname.replace(/^\[|\]$/g, ''), Number(port) || 80, health);
      if (problem === undefined) break;
      const waited = Date.now() - started;
      if (waited >= nextLog) {
        this.logger.info({ appId: this.appId, url: this.url, waitedMs: waited, problem }, 'waiting for the app to be ready before delivering to it');
        nextLog = waited < 10_000 ? 10_000 : waited + 30_000;
      }
      await sleep(this.options.probeIntervalMs, signal);
    }
    this.logger.info({ appId: this.appId, url: this.url, tookMs: Date.now() - started }, 'the app is ready: delivering to it');
    this.health?.start();
  }

  /** One health probe (GET `path` within `timeoutMs`): undefined on a 2xx answer, else what went wrong. */
  private async probeHealth(path: string, timeoutMs: number): Promise<string | undefined> {
    const { pool } = await this.client();
    try {
      const res = await pool.request({
        path: this.basePath + path,
        method: 'GET',
        headers: this.options.apiToken ? { 'dapr-api-token': this.options.apiToken } : {},
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300 ? undefined : `${path} answered ${res.statusCode}`;
    } catch (err) {
      const name = (err as { name?: string }).name;
      return name === 'TimeoutError' || name === 'AbortError' ? `${path} did not answer within ${timeoutMs} ms` : `${path}: ${errorMessage(err)}`;
    }
  }

  /** Undefined when ready, else what is not. */
  private async probe(host: string, port: number, healthPath: string | undefined): Promise<string | undefined> {
    const open = await new Promise<boolean>((ok) => {
      const socket = connect({ host, port });
      socket.once('connect', () => (socket.destroy(), ok(true)));
      socket.once('error', () => (socket.destroy(), ok(false)));
    });
    if (!open) return `port ${port} is not open`;
    if (!healthPath) return undefined;
    try {
      const res = await this.forward({ method: 'GET', url: healthPath, headers: {} });
      return res.status >= 200 && res.status < 300 ? undefined : `${healthPath} answered ${res.status}`;
    } catch (err) {
      return `${healthPath}: ${errorMessage(err)}`;
    }
  }
}

type ParseHeaders = (raw: Buffer[]) => Record<string, string | string[]>;

/** Hop-by-hop headers of the app's answer, not passed on. */
const HOP_BY_HOP = new Set(['transfer-encoding', 'connection', 'keep-alive']);

/** Collects one answer of the app (status, headers, body chunks) and settles the forward's promise. */
class CollectingHandler implements Dispatcher.DispatchHandlers {
  private status = 0;
  private rawHeaders: Buffer[] = [];
  private readonly chunks: Buffer[] = [];

  constructor(
    private readonly parseHeaders: ParseHeaders,
    private readonly resolve: (res: InvokeResponse) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  onConnect(): void {
    // nothing to abort from here: the request runs to its end or its error
  }

  onHeaders(statusCode: number, headers: Buffer[]): boolean {
    // A 1xx informational answer is followed by the real one, whose headers replace these.
    this.status = statusCode;
    this.rawHeaders = headers;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    const headers: HeaderMap = {};
    const parsed = this.parseHeaders(this.rawHeaders);
    for (const name in parsed) {
      const value = parsed[name];
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    const body = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    this.resolve({ status: this.status, headers, body });
  }

  onError(err: Error): void {
    this.reject(err);
  }
}
