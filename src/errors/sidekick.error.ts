import { errorCodeInfo } from './error-codes';

/** Where an error is about: the component, file and field it names. */
export interface ErrorContext {
  readonly component?: string;
  readonly file?: string;
  readonly field?: string;
}

export interface SidekickErrorOptions extends ErrorContext {
  /** Overrides the error table's `retryable` for this code. */
  readonly retryable?: boolean;
  /** Overrides the error table's HTTP status for this code. */
  readonly httpStatus?: number;
  /** daprd's rich-error reason (`DAPR_STATE_ILLEGAL_KEY`); defaults to the error table's for the code. */
  readonly reason?: string;
  readonly cause?: unknown;
}

/**
 * The root of every error the runtime throws. `code` is stable (Dapr's `ERR_*` where one exists);
 * `httpStatus` and `retryable` come from the one error table (src/errors/error-codes.ts) unless
 * given. `retryable` tells resiliency policies and pub/sub whether trying again can help.
 */
export class SidekickError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly httpStatus: number;
  readonly reason?: string;
  readonly component?: string;
  readonly file?: string;
  readonly field?: string;

  constructor(code: string, message: string, options: SidekickErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const info = errorCodeInfo(code);
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? info.retryable;
    this.httpStatus = options.httpStatus ?? info.httpStatus;
    this.reason = options.reason ?? info.reason;
    this.component = options.component;
    this.file = options.file;
    this.field = options.field;
  }
}

/** A backend (Redis, Postgres, ...) failed or could not be reached. Retryable. */
export class BackendError extends SidekickError {
  constructor(component: string, message: string, cause?: unknown) {
    super('ERR_BACKEND', message, { component, cause, retryable: true });
  }
}

/**
 * An error the Dapr HTTP API answers with exactly this status and code (request validation in a
 * route). A SidekickError like every other; kept as a name for route code's readability.
 */
export class ApiError extends SidekickError {
  constructor(status: number, code: string, message: string, reason?: string) {
    super(code, message, { httpStatus: status, reason });
  }
}

export function isSidekickError(err: unknown): err is SidekickError {
  return err instanceof SidekickError;
}

/** A short message for any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
