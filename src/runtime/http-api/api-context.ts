import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HTTPMethod } from 'find-my-way';
import type { z } from 'zod';
import { errorCodeInfo } from '../../errors/error-codes';
import { ApiError, SidekickError } from '../../errors/sidekick.error';
import { formatIssues } from '../../errors/zod-issues';
import { type FieldShape, foldFieldNames } from './json-fields';

export { ApiError };

/** One API request, as route handlers see it. */
export interface ApiContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly query: URLSearchParams;
  /** The raw query string, without `?`. */
  readonly rawQuery: string;
  /** The path of the request, without the query. */
  readonly path: string;
  /** The request body (bounded by `maxBodyBytes`). */
  body(): Promise<Buffer>;
}

export type RouteHandler = (ctx: ApiContext) => Promise<void>;

/**
 * A Dapr HTTP API route, declared by its block. The server maps whatever the handler throws: an
 * `ApiError` as it is, a `SidekickError` through the error table (codes marked `reportAs:
 * 'operation'` answer with the route's `errorCode`), anything else as 500 with `errorCode`.
 */
export interface ApiRoute {
  /** `state.save`: what interceptors see as the operation. */
  readonly name: string;
  readonly methods: readonly HTTPMethod[];
  /** find-my-way path (`/v1.0/state/:store/:key`). `''` for the fallback route (no path matched). */
  readonly path: string;
  /** The Dapr error code this operation reports failures with (`ERR_STATE_SAVE`). */
  readonly errorCode: string;
  /** Per error code, the status this route answers with instead of the table's. */
  readonly errorStatus?: Readonly<Record<string, number>>;
  /** Served without the API token (health checks). */
  readonly public?: boolean;
  readonly handler: RouteHandler;
}

/** What an error thrown by `route` answers with. */
export function toApiError(err: unknown, route: Pick<ApiRoute, 'errorCode' | 'errorStatus'> | undefined): ApiError {
  if (err instanceof ApiError) return err;
  const fallback = route?.errorCode ?? 'ERROR';
  if (!(err instanceof SidekickError)) return new ApiError(500, fallback, err instanceof Error ? err.message : String(err));
  const info = errorCodeInfo(err.code);
  const code = info.reportAs === 'operation' ? fallback : err.code;
  return new ApiError(route?.errorStatus?.[err.code] ?? err.httpStatus, code, err.message, code === err.code ? err.reason : undefined);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

export function sendNoContent(res: ServerResponse, headers: Record<string, string> = {}): void {
  res.writeHead(204, headers);
  res.end();
}

/** The error body: daprd's legacy shape, or its rich one (an ErrorInfo in `details`) for codes daprd enriches. */
export function sendError(res: ServerResponse, err: ApiError, appId = ''): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const body: Record<string, unknown> = { errorCode: err.code, message: err.message };
  if (err.reason)
    body['details'] = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', domain: 'dapr.io', metadata: { appID: appId }, reason: err.reason }];
  sendJson(res, err.httpStatus, body);
}

/** `metadata.<k>=v` query parameters, first value of each. */
export function queryMetadata(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of query) {
    if (name.startsWith('metadata.') && !(name.slice(9) in out)) out[name.slice(9)] = value;
  }
  return out;
}

/** Deepest nesting of arrays and objects accepted in a request body (deeper bodies would overflow the stack later). */
export const MAX_JSON_DEPTH = 1000;

/**
 * Parses a JSON body or answers 400 `ERR_MALFORMED_REQUEST` with the parser's reason. With `shape`,
 * field names are matched case-insensitively as daprd's decoder does ({@link foldFieldNames}).
 */
export function parseJsonBody(body: Buffer, what: string, shape?: FieldShape): unknown {
  const text = body.toString('utf8');
  // Nesting deeper than MAX_JSON_DEPTH needs at least that many brackets: short bodies skip the scan.
  if (text.length > MAX_JSON_DEPTH && nestingDepth(text) > MAX_JSON_DEPTH) {
    throw new ApiError(400, 'ERR_MALFORMED_REQUEST', `failed deserializing HTTP body of ${what}: nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'ERR_MALFORMED_REQUEST', `failed deserializing HTTP body of ${what}: ${(err as Error).message}`);
  }
  return shape ? foldFieldNames(value, shape) : value;
}

/** The deepest nesting of `[`/`{` outside strings (one pass, no recursion). */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Validates a parsed body against a schema or answers 400 with `code` and the issues in the one format. */
export function validateBody<T extends z.ZodType>(schema: T, value: unknown, code: string, prefix = 'malformed request: '): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ApiError(400, code, `${prefix}${formatIssues(parsed.error.issues)}`);
}

export function header(ctx: ApiContext, name: string): string | undefined {
  const value = ctx.req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** W3C trace context of the request (`traceparent`, `tracestate`, `baggage`), as daprd carries it into events and bindings. */
export function traceMetadata(ctx: ApiContext, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['traceparent', 'tracestate', 'baggage']) {
    const value = header(ctx, name);
    if (value) out[`${prefix}${name}`] = value;
  }
  return out;
}
