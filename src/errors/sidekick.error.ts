/** Where an error is about: the component, file and field it names. */
export interface ErrorContext {
  readonly component?: string;
  readonly file?: string;
  readonly field?: string;
}

export interface SidekickErrorOptions extends ErrorContext {
  readonly retryable?: boolean;
  readonly cause?: unknown;
}

/**
 * The root of every error the runtime throws. `code` is stable (Dapr's `ERR_*` where one exists);
 * `retryable` tells resiliency policies and pub/sub whether trying again can help.
 */
export class SidekickError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly component?: string;
  readonly file?: string;
  readonly field?: string;

  constructor(code: string, message: string, options: SidekickErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
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

export function isSidekickError(err: unknown): err is SidekickError {
  return err instanceof SidekickError;
}

/** A short message for any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
