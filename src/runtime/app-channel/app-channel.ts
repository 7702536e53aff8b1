import { connect } from 'node:net';
import type { Dispatcher } from 'undici';
import type { DeclarativeSubscription } from '../../config/subscription.loader';
import { errorMessage } from '../../errors/sidekick.error';
import type { SidekickLogger } from '../../spi/logger';
import type { InProcessRequest } from '../blocks/invoke/in-process.dispatcher';
import type { HeaderMap, InvokeResponse } from '../blocks/invoke/invoke.types';
import type { ResolvedOptions } from '../sidekick.options';
import { type AppActorConfig, parseAppActorConfig } from './app-actors';
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
  private dispatcher?: Promise<{ undici: typeof import('undici'); agent: Dispatcher }>;

  constructor(
    private readonly options: ResolvedAppChannel,
    private readonly appId: string,
    private readonly logger: SidekickLogger,
  ) {
    this.url = options.url;
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

  /** One request to the app; its status, headers and body come back unchanged. */
  async forward(req: InProcessRequest): Promise<InvokeResponse> {
    const { undici, agent } = await this.client();
    const res = await undici.request(this.url + req.url, {
      method: req.method.toUpperCase() as Dispatcher.HttpMethod,
      headers: this.options.apiToken ? { ...req.headers, 'dapr-api-token': this.options.apiToken } : (req.headers as Record<string, string | string[]>),
      body: req.body && req.body.length > 0 ? req.body : undefined,
      dispatcher: agent,
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    const headers: HeaderMap = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined || name === 'transfer-encoding' || name === 'connection' || name === 'keep-alive') continue;
      headers[name] = value;
    }
    return { status: res.statusCode, headers, body };
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
    const client = this.dispatcher;
    this.dispatcher = undefined;
    if (client) await (await client).agent.close();
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

  private client(): Promise<{ undici: typeof import('undici'); agent: Dispatcher }> {
    this.dispatcher ??= import('undici').then((undici) => ({ undici, agent: new undici.Agent({ keepAliveTimeout: 10_000, connections: 128 }) }));
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
