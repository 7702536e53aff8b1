import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { IN_PROCESS_REQUEST } from '../../interception/trace-context';
import type { HeaderMap, InvokeResponse } from './invoke.types';

/** A Node request handler: an Express app, or any `(req, res) => void`. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface InProcessRequest {
  readonly method: string;
  /** Path and query, e.g. `/orders/1?x=2`. */
  readonly url: string;
  readonly headers: Readonly<HeaderMap>;
  readonly body?: Buffer;
}

/**
 * Runs one request through an HTTP request listener in this process: a real `IncomingMessage` and
 * `ServerResponse` on an unconnected socket, with the response captured as it is written.
 *
 * Why not light-my-request: with Express it replaces the prototypes of Express's shared request and
 * response objects, which breaks the app's real traffic (seen: sockets closed mid-request). Here the
 * capture lives in own properties of one response object, which survive Express's `setPrototypeOf`.
 */
export function dispatchInProcess(listener: RequestListener, request: InProcessRequest): Promise<InvokeResponse> {
  return new Promise<InvokeResponse>((resolve, reject) => {
    const socket = new Socket();
    const req = new IncomingMessage(socket) as IncomingMessage & { [IN_PROCESS_REQUEST]?: boolean };
    req[IN_PROCESS_REQUEST] = true;
    req.method = request.method.toUpperCase();
    req.url = request.url;
    req.httpVersion = '1.1';
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      headers[name.toLowerCase()] = value;
      for (const v of Array.isArray(value) ? value : [value]) req.rawHeaders.push(name, v);
    }
    const body = request.body ?? Buffer.alloc(0);
    if (body.length > 0 || !['GET', 'HEAD'].includes(req.method)) headers['content-length'] = String(body.length);
    req.headers = headers;
    if (body.length > 0) req.push(body);
    req.push(null);
    req.complete = true;

    const res = new ServerResponse(req);
    const chunks: Buffer[] = [];
    const toBuffer = (chunk: unknown, encoding?: unknown): Buffer | undefined => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return undefined;
      if (Buffer.isBuffer(chunk)) return chunk;
      if (chunk instanceof Uint8Array) return Buffer.from(chunk);
      return Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    };
    // Status and headers are recorded, never serialised: this response is not sent on a socket.
    let headersSent = false;
    Object.defineProperty(res, 'headersSent', { get: () => headersSent, configurable: true });
    const ensureHeaders = (): void => {
      headersSent = true;
    };
    Object.assign(res, {
      writeHead(status: number, reason?: unknown, headers?: unknown): ServerResponse {
        res.statusCode = status;
        const given = typeof reason === 'string' ? headers : reason;
        if (Array.isArray(given)) {
          for (let i = 0; i + 1 < given.length; i += 2) res.setHeader(String(given[i]), given[i + 1] as string);
        } else if (given && typeof given === 'object') {
          for (const [name, value] of Object.entries(given)) if (value !== undefined) res.setHeader(name, value as string);
        }
        headersSent = true;
        return res;
      },
      write(chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
        ensureHeaders();
        const buf = toBuffer(chunk, encoding);
        if (buf) chunks.push(buf);
        const done = typeof encoding === 'function' ? encoding : cb;
        if (typeof done === 'function') process.nextTick(done as () => void);
        return true;
      },
      end(chunk?: unknown, encoding?: unknown, cb?: unknown): ServerResponse {
        if (res.writableEnded) return res;
        ensureHeaders();
        const buf = toBuffer(chunk, encoding);
        if (buf) chunks.push(buf);
        (res as { finished: boolean }).finished = true;
        const responseHeaders: HeaderMap = {};
        for (const [name, value] of Object.entries(res.getHeaders())) {
          if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value : String(value);
        }
        resolve({ status: res.statusCode, headers: responseHeaders, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
        const done = [chunk, encoding, cb].find((f) => typeof f === 'function');
        process.nextTick(() => {
          res.emit('prefinish');
          res.emit('finish');
          res.emit('close');
          req.emit('close');
          socket.destroy();
          if (typeof done === 'function') (done as () => void)();
        });
        return res;
      },
    });
    try {
      listener(req, res);
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
