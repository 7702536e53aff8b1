import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { type AddressInfo, connect } from 'node:net';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import type { SidekickLogger } from '../../spi/logger';
import { type Interception, NO_INTERCEPTION } from '../interception/interception';
import { injectTraceContext, withIncomingTraceContext } from '../interception/trace-context';
import { type ApiContext, ApiError, type ApiRoute, sendError, toApiError } from './api-context';

export interface HttpApiServerOptions {
  /** The address to bind; several separated by commas (daprd's `--dapr-listen-addresses`): one listener each. */
  readonly host: string;
  readonly port: number;
  readonly apiToken?: string;
  /** A Unix domain socket file to serve on instead of TCP (daprd's `--unix-domain-socket`): host and port are then not used. */
  readonly socketPath?: string;
  /** Largest request body in bytes (Infinity: no limit); larger ones get 413. */
  readonly maxBodyBytes: number;
  /** Largest request head in bytes (Node's `maxHeaderSize`; undefined: Node's 16 KiB); larger ones get 431. */
  readonly maxHeaderBytes?: number;
  /** This app's id, named in rich error details. */
  readonly appId?: string;
  /** Time to receive a whole request (Node's `requestTimeout`); 0 disables. */
  readonly requestTimeoutMs?: number;
  /** Time to receive the request headers (Node's `headersTimeout`). */
  readonly headersTimeoutMs?: number;
}

const NOOP = (): void => undefined;
const EMPTY = Buffer.alloc(0);

/**
 * Dapr's HTTP API on its own port (default 127.0.0.1:3500): routing, the API token, bounded bodies,
 * error bodies, and a drain on shutdown. Route handlers are thin adapters over the building blocks.
 */
export class HttpApiServer {
  private readonly router = FindMyWay({ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 16 * 1024 });
  private readonly token?: Buffer;
  private servers: Server[] = [];
  private inFlight = 0;
  /** Responses not yet sent: told `Connection: close` when shutdown begins. */
  private readonly open = new Set<ServerResponse>();
  /** Set once shutdown began: every answer carries `Connection: close`, so no client sends on a closing connection. */
  private draining = false;
  private fallback?: ApiRoute;
  private readonly intercepted: boolean;

  constructor(
    private readonly options: HttpApiServerOptions,
    private readonly logger: SidekickLogger,
    private readonly interception: Interception = NO_INTERCEPTION,
  ) {
    this.token = options.apiToken ? Buffer.from(options.apiToken) : undefined;
    this.intercepted = interception.active('api');
  }

  /** Adds a route; one with path `''` serves requests that match no other route (Dapr sends them to service invocation via `dapr-app-id`). */
  add(route: ApiRoute): void {
    if (route.path === '') {
      this.fallback = route;
      return;
    }
    this.router.on(route.methods as HTTPMethod[], route.path, NOOP, route);
  }

  /**
   * Listens on every address of `host` and returns the first one's address. As daprd, an address that
   * cannot be bound is logged and skipped when another one works; when none does, the first error is thrown.
   */
  async listen(): Promise<AddressInfo | undefined> {
    if (this.options.socketPath) {
      this.servers.push(await this.listenOnSocket(this.options.socketPath));
      return undefined;
    }
    const hosts = this.options.host
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    const failures: Error[] = [];
    for (const host of hosts) {
      try {
        this.servers.push(await this.listenOn(host));
      } catch (err) {
        failures.push(err as Error);
      }
    }
    if (this.servers.length === 0) throw failures[0] ?? new Error('no address to serve the Dapr HTTP API on');
    for (const failure of failures) this.logger.warn({ err: failure.message }, 'one Dapr HTTP API address could not be bound: skipped');
    return this.servers[0]?.address() as AddressInfo;
  }

  /** Serves on a Unix socket file; a stale file (no server answers on it) is replaced, a live one is an error. */
  private async listenOnSocket(path: string): Promise<Server> {
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new Error(`cannot serve the Dapr HTTP API on ${path}: a file that is not a socket is there. Remove it.`);
      const live = await new Promise<boolean>((ok) => {
        const socket = connect({ path });
        socket.once('connect', () => (socket.destroy(), ok(true)));
        socket.once('error', () => (socket.destroy(), ok(false)));
      });
      if (live) throw new Error(`cannot serve the Dapr HTTP API on ${path}: another process serves there. Stop it or choose another folder.`);
      unlinkSync(path);
    }
    const server = this.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`cannot serve the Dapr HTTP API on the socket ${path}: ${err.code ?? err.message}. Check the folder exists and is writable.`);
    });
    return server;
  }

  private createServer(): Server {
    const requestTimeout = this.options.requestTimeoutMs ?? 30_000;
    const headersTimeout = Math.min(this.options.headersTimeoutMs ?? 10_000, requestTimeout || Infinity);
    // Slow clients are cut: a request must arrive within requestTimeout (headers within headersTimeout),
    // checked every second rather than Node's default 30 s. A head over maxHeaderSize gets Node's 431.
    return createServer(
      {
        keepAliveTimeout: 65_000,
        requestTimeout,
        headersTimeout,
        connectionsCheckingInterval: 1000,
        ...(this.options.maxHeaderBytes !== undefined && { maxHeaderSize: this.options.maxHeaderBytes }),
      },
      (req, res) => this.handle(req, res),
    );
  }

  private async listenOn(host: string): Promise<Server> {
    const server = this.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: NodeJS.ErrnoException) => {
      const fix =
        err.code === 'EADDRNOTAVAIL'
          ? 'Bind an address of this machine (SIDEKICK_HTTP_HOST, httpApi.host, --dapr-listen-addresses).'
          : 'Set SIDEKICK_HTTP_PORT (or httpApi.port) to a free port.';
      throw new Error(`cannot serve the Dapr HTTP API on ${host}:${this.options.port}: ${err.code ?? err.message}. ${fix}`);
    });
    return server;
  }

  /** Stops accepting, waits for in-flight requests up to `deadlineMs`, then closes every connection. Returns how many requests were cut. */
  async close(deadlineMs: number): Promise<number> {
    const servers = this.servers.splice(0);
    if (servers.length === 0) return 0;
    this.draining = true;
    for (const res of this.open) if (!res.headersSent) res.setHeader('connection', 'close');
    const closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    for (const server of servers) server.closeIdleConnections();
    // Operational time: a virtual clock in a test must not stretch or cut the drain.
    const deadline = Date.now() + deadlineMs;
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      for (const server of servers) server.closeIdleConnections();
    }
    const cut = this.inFlight;
    if (cut > 0) this.logger.warn({ inFlight: cut }, 'HTTP API drain deadline passed; closing open requests');
    for (const server of servers) server.closeAllConnections();
    await closed;
    return cut;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.inFlight += 1;
    this.open.add(res);
    res.once('close', () => {
      this.inFlight -= 1;
      this.open.delete(res);
    });
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const rawQuery = q === -1 ? '' : url.slice(q + 1);
    if (this.draining) res.setHeader('connection', 'close');
    const found = this.router.find(req.method as HTTPMethod, path);
    const route = found ? (found.store as ApiRoute) : badlyEncoded(path) ? MALFORMED_URL : this.fallback;
    if (this.token && !route?.public && !this.authorised(req)) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('invalid api token');
      return;
    }
    const ctx: ApiContext = {
      req,
      res,
      params: found?.params ?? {},
      query: new URLSearchParams(rawQuery),
      rawQuery,
      path,
      body: () => this.readBody(req),
    };
    const work = !route
      ? Promise.reject(notFound())
      : this.intercepted
        ? withIncomingTraceContext(req.headers, () =>
            this.interception.run(
              { kind: 'api', target: route.name, type: 'http', operation: `${req.method ?? 'GET'} ${route.path || '(dapr-app-id)'}`, attributes: { path } },
              () => {
                // As daprd: the response carries the request's span context (a handler may replace it, e.g. invoke's target's).
                traceResponse(res);
                return route.handler(ctx).then(() => res.statusCode);
              },
            ),
          )
        : route.handler(ctx);
    work.catch((err: unknown) => {
      const apiError = toApiError(err, route);
      if (apiError.httpStatus >= 500) this.logger.warn({ path, errorCode: apiError.code, err: apiError.message }, 'HTTP API request failed');
      sendError(res, apiError, this.options.appId);
    });
  }

  private authorised(req: IncomingMessage): boolean {
    const given = req.headers['dapr-api-token'];
    if (typeof given !== 'string' || !this.token) return false;
    const buf = Buffer.from(given);
    return buf.length === this.token.length && timingSafeEqual(buf, this.token);
  }

  private readBody(req: IncomingMessage): Promise<Buffer> {
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
      return Promise.resolve(EMPTY); // no body on the wire: don't wait for the stream to end
    }
    const limit = this.options.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      return Promise.reject(tooLarge(limit));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.removeAllListeners('data');
          req.resume();
          reject(tooLarge(limit));
          return;
        }
        chunks.push(chunk);
      });
      req.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
      req.once('error', reject);
    });
  }
}

/** A route that answers 400: the path holds an invalid %-escape (so no route could match it). */
const MALFORMED_URL: ApiRoute = {
  name: 'malformed-url',
  methods: [],
  path: '(malformed)',
  errorCode: 'ERR_MALFORMED_REQUEST',
  handler: (ctx) =>
    Promise.reject(new ApiError(400, 'ERR_MALFORMED_REQUEST', `the URL path ${JSON.stringify(ctx.path.slice(0, 200))} holds an invalid %-escape`)),
};

function badlyEncoded(path: string): boolean {
  if (!path.includes('%')) return false;
  try {
    decodeURIComponent(path);
    return false;
  } catch {
    return true;
  }
}

function tooLarge(limit: number): ApiError {
  return new ApiError(
    413,
    'ERR_BODY_TOO_LARGE',
    `request body is larger than the limit of ${limit} bytes (httpApi.maxBodyBytes; sidekick run --max-body-size)`,
  );
}

function notFound(): ApiError {
  return new ApiError(404, 'ERR_DIRECT_INVOKE', 'failed getting app id either from the URL path or the header dapr-app-id');
}

/** Sets `traceparent`/`tracestate` of the active span on the response (nothing outside a span). */
function traceResponse(res: ServerResponse): void {
  const headers: Record<string, unknown> = {};
  if (!injectTraceContext(headers)) return;
  for (const [name, value] of Object.entries(headers)) if (typeof value === 'string') res.setHeader(name, value);
}
