import { STATUS_CODES } from 'node:http';
import type { Agent, request as undiciRequest } from 'undici';
import { SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import type { BindingRequest, BindingResponse, OutputBinding } from '../../src/spi/binding';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import { isTruthy } from '../../src/spi/metadata-reader';

const OPERATIONS = ['create', 'get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'] as const;
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);
/** Request metadata passed as headers whatever their case (trace context), as daprd does. */
const TRACE_KEYS = new Set(['traceparent', 'tracestate', 'baggage']);
const JSON_TYPE = 'application/json; charset=utf-8';
const DEFAULT_MAX_BODY = 100 * 1024 * 1024; // daprd: 100 MB
const CONNECT_TIMEOUT_MS = 15_000; // daprd's dialer timeout
const EXCERPT = 200;

/** A response with a status daprd treats as an error (not 2xx, unless `errorIfNot2XX` is false). */
export class HttpBindingStatusError extends SidekickError {
  constructor(
    component: string,
    readonly statusCode: number,
    readonly body: Buffer,
    readonly metadata: Readonly<Record<string, string>>,
  ) {
    const excerpt = body.subarray(0, EXCERPT).toString('utf8').replace(/\s+/g, ' ').trim();
    const more = body.length > EXCERPT ? '...' : '';
    super('ERR_INVOKE_OUTPUT_BINDING', `received status code ${statusCode}${excerpt ? `: ${excerpt}${more}` : ''}`, { component });
  }
}

/**
 * `bindings.http` (output), as daprd's: the operation is the HTTP method (`create` = POST), request
 * metadata `path` is appended to `url`, request metadata keys starting with an upper-case letter
 * (plus `traceparent`, `tracestate`, `baggage`) are sent as headers, and the response body comes
 * back with metadata `statusCode`, `status` and every response header (Go-canonical names, multiple
 * values joined with ", "). A status outside 2xx throws {@link HttpBindingStatusError} unless
 * `errorIfNot2XX` (component or request metadata) is false.
 */
export class HttpBinding implements OutputBinding {
  readonly operations: readonly string[] = OPERATIONS;
  private name = 'http';
  private url = '';
  private maxBody = DEFAULT_MAX_BODY;
  private errorIfNot2XX = true;
  private token?: { header: string; value: string };
  private agent?: Agent;
  private request?: typeof undiciRequest;

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    const meta = init.meta;
    const url = meta.required('url', 'the base URL requests go to, e.g. http://localhost:8080/api');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw meta.error('url', `"${url}" is not an absolute URL (e.g. http://localhost:8080/api)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw meta.error('url', `"${url}" is not an http:// or https:// URL`);
    }
    this.url = url;
    this.maxBody = meta.bytesSize('maxResponseBodySize', DEFAULT_MAX_BODY);
    this.errorIfNot2XX = meta.bool('errorIfNot2XX', true);
    const token = meta.raw('securityToken');
    const header = meta.text('securityTokenHeader');
    if (token && !header)
      throw meta.error('securityTokenHeader', 'securityTokenHeader is required with securityToken (the header that carries it, e.g. Authorization)');
    if (token && header) this.token = { header, value: token };
    const timeout = meta.duration('responseTimeout');
    // Loaded on first use: an app without an HTTP binding never pays for undici (~125 ms, 18 MB).
    const undici = await import('undici');
    this.request = undici.request;
    this.agent = new undici.Agent({
      connect: { timeout: CONNECT_TIMEOUT_MS },
      ...(timeout !== undefined && timeout > 0 ? { headersTimeout: timeout, bodyTimeout: timeout } : {}),
    });
  }

  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    await agent?.close();
  }

  async invoke(req: BindingRequest): Promise<BindingResponse> {
    const { agent, request } = this;
    if (!agent || !request)
      throw new SidekickError('ERR_INVOKE_OUTPUT_BINDING', `http binding ${this.name} is not initialised or is closed`, { component: this.name });
    const method = req.operation === 'create' ? 'POST' : req.operation.toUpperCase();
    if (!(OPERATIONS as readonly string[]).includes(req.operation)) {
      throw new SidekickError('ERR_INVOKE_OUTPUT_BINDING', `http binding ${this.name}: invalid operation ${req.operation}`, { component: this.name });
    }
    const md = req.metadata;
    const path = md['path'];
    const url = path ? `${this.url.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}` : this.url;
    const hasBody = WITH_BODY.has(method);
    const headers = this.headersFor(md, hasBody);
    const errorIfNot2XX = md['errorIfNot2XX'] ? isTruthy(md['errorIfNot2XX']) : this.errorIfNot2XX;

    let statusCode: number;
    let data: Buffer;
    let responseHeaders: Record<string, string | string[] | undefined>;
    try {
      const res = await request(url, { method: method as 'GET', headers, body: hasBody ? req.data : undefined, dispatcher: agent });
      statusCode = res.statusCode;
      responseHeaders = res.headers;
      data = await readLimited(res.body, this.maxBody);
    } catch (err) {
      throw new SidekickError('ERR_INVOKE_OUTPUT_BINDING', `http binding ${this.name}: ${method} ${url} failed: ${errorMessage(err)}`, {
        component: this.name,
        cause: err,
        retryable: true,
      });
    }
    const metadata: Record<string, string> = { statusCode: String(statusCode), status: `${statusCode} ${STATUS_CODES[statusCode] ?? ''}`.trim() };
    for (const [key, value] of Object.entries(responseHeaders)) {
      if (value !== undefined) metadata[canonicalHeader(key)] = Array.isArray(value) ? value.join(', ') : value;
    }
    if (errorIfNot2XX && (statusCode < 200 || statusCode > 299)) throw new HttpBindingStatusError(this.name, statusCode, data, metadata);
    return { data, metadata };
  }

  private headersFor(md: Readonly<Record<string, string>>, hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = {};
    const set = (key: string, value: string): void => {
      for (const existing of Object.keys(headers)) if (existing.toLowerCase() === key.toLowerCase()) delete headers[existing];
      headers[key] = value;
    };
    if (hasBody && md['Content-Type'] === undefined) set('Content-Type', JSON_TYPE);
    if (md['Accept'] === undefined) set('Accept', JSON_TYPE);
    if (this.token) set(this.token.header, this.token.value);
    for (const [key, value] of Object.entries(md)) {
      if (/^[A-Z]/.test(key) || TRACE_KEYS.has(key)) set(key, value);
    }
    return headers;
  }
}

/** Reads at most `limit` bytes (`<= 0`: no limit) and drops the rest, as daprd's LimitReader does. */
async function readLimited(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (limit > 0 && size + chunk.length >= limit) {
      chunks.push(chunk.subarray(0, limit - size));
      size = limit;
      body.destroy();
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks, size);
}

/** Go's `http.CanonicalHeaderKey`: `content-type` → `Content-Type`. */
function canonicalHeader(key: string): string {
  return key.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

export const httpBindingFactory: ComponentFactory<HttpBinding> = {
  type: 'bindings.http',
  kind: 'bindings',
  versions: ['v1'],
  create: () => new HttpBinding(),
};
