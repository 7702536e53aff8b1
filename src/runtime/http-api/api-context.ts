import type { IncomingMessage, ServerResponse } from 'node:http';
import { SidekickError } from '../../errors/sidekick.error';

/** One API request, as route handlers see it. */
export interface ApiContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly query: URLSearchParams;
  /** The raw query string, without `?`. */
  readonly rawQuery: string;
  /** The request body (bounded by `maxBodyBytes`). */
  body(): Promise<Buffer>;
}

export type RouteHandler = (ctx: ApiContext) => Promise<void>;

/** An error with the HTTP status and Dapr `errorCode` to answer with. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
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

export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  sendJson(res, err.status, { errorCode: err.errorCode, message: err.message });
}

/** `metadata.<k>=v` query parameters, first value of each. */
export function queryMetadata(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of query) {
    if (name.startsWith('metadata.') && !(name.slice(9) in out)) out[name.slice(9)] = value;
  }
  return out;
}

/** Parses a JSON body or answers 400 `ERR_MALFORMED_REQUEST` with the parser's reason. */
export function parseJsonBody(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ApiError(400, 'ERR_MALFORMED_REQUEST', `failed deserializing HTTP body of ${what}: ${(err as Error).message}`);
  }
}

/** Maps an error thrown by a block to an ApiError with the operation's Dapr code. */
export function toApiError(err: unknown, operationCode: string): ApiError {
  if (err instanceof ApiError) return err;
  if (!(err instanceof SidekickError)) return new ApiError(500, operationCode, (err as Error)?.message ?? String(err));
  switch (err.code) {
    case 'ERR_ETAG_MISMATCH':
      return new ApiError(operationCode === 'ERR_STATE_TRANSACTION' ? 500 : 409, operationCode, err.message);
    case 'ERR_ETAG_INVALID':
      return new ApiError(operationCode === 'ERR_STATE_TRANSACTION' ? 500 : 400, operationCode, err.message);
    case 'ERR_STATE_STORE_NOT_FOUND':
    case 'ERR_MALFORMED_REQUEST':
      return new ApiError(400, err.code, err.message);
    case 'ERR_STATE_STORE_NOT_SUPPORTED':
    case 'ERR_DIRECT_INVOKE':
    case 'ERR_PUBSUB_CLOUD_EVENTS_SER':
    case 'ERR_PUBSUB_PUBLISH_MESSAGE':
    case 'ERR_INVOKE_OUTPUT_BINDING':
      return new ApiError(500, err.code, err.message);
    case 'ERR_PUBSUB_NOT_FOUND':
    case 'ERR_TOPIC_NAME_EMPTY':
      return new ApiError(404, err.code, err.message);
    case 'ERR_PUBSUB_REQUEST_METADATA':
      return new ApiError(400, err.code, err.message);
    default:
      return new ApiError(500, operationCode, err.message);
  }
}
