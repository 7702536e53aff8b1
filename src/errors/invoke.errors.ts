import { SidekickError } from './sidekick.error';

/** Service invocation failed before the target answered (unknown app, unreachable, timeout). */
export class InvokeError extends SidekickError {
  constructor(appId: string, reason: string, options: { retryable?: boolean; cause?: unknown; httpStatus?: number } = {}) {
    super('ERR_DIRECT_INVOKE', `failed to invoke, id: ${appId}, err: ${reason}`, options);
  }
}
