/**
 * Every stable error code in one table: the HTTP status the Dapr HTTP API answers with, and whether
 * trying again can help. `reportAs: 'operation'` answers with the failing route's own code (daprd
 * reports an ETag mismatch on save as `ERR_STATE_SAVE` with status 409).
 */
export interface ErrorCodeInfo {
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly reportAs?: 'operation';
  /** daprd's rich-error reason (`DAPR_*`): the answer then carries an ErrorInfo in `details`, as daprd's does. */
  readonly reason?: string;
}

const table = {
  // Request and configuration problems
  ERR_MALFORMED_REQUEST: { httpStatus: 400, retryable: false },
  ERR_CONFIG: { httpStatus: 500, retryable: false },
  ERR_DUPLICATE_NAME: { httpStatus: 500, retryable: false },
  ERR_REGISTRY_FROZEN: { httpStatus: 500, retryable: false },
  ERR_COMPONENT_INIT: { httpStatus: 500, retryable: false },
  ERR_NOT_STARTED: { httpStatus: 500, retryable: false },
  ERR_BODY_TOO_LARGE: { httpStatus: 413, retryable: false },
  ERR_NOT_FOUND: { httpStatus: 404, retryable: false },
  ERR_NOT_SUPPORTED: { httpStatus: 501, retryable: false },
  ERR_BACKEND: { httpStatus: 500, retryable: true },
  // A resiliency timeout or an open circuit breaker: the HTTP API answers with the operation's own code
  // (ERR_STATE_GET, ERR_DIRECT_INVOKE, ...) and 500, as daprd does.
  ERR_TIMEOUT: { httpStatus: 500, retryable: true, reportAs: 'operation' },
  ERR_CIRCUIT_OPEN: { httpStatus: 500, retryable: true, reportAs: 'operation' },
  // State
  ERR_STATE_STORE_NOT_FOUND: { httpStatus: 400, retryable: false, reason: 'DAPR_STATE_NOT_FOUND' },
  ERR_STATE_STORE_NOT_SUPPORTED: { httpStatus: 500, retryable: false, reason: 'DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED' },
  ERR_NOT_SUPPORTED_STATE_OPERATION: { httpStatus: 400, retryable: false },
  ERR_ETAG_MISMATCH: { httpStatus: 409, retryable: false, reportAs: 'operation' },
  ERR_ETAG_INVALID: { httpStatus: 400, retryable: false, reportAs: 'operation' },
  ERR_STATE_SAVE: { httpStatus: 500, retryable: true },
  ERR_STATE_GET: { httpStatus: 500, retryable: true },
  ERR_STATE_BULK_GET: { httpStatus: 500, retryable: true },
  ERR_STATE_DELETE: { httpStatus: 500, retryable: true },
  ERR_STATE_TRANSACTION: { httpStatus: 500, retryable: false },
  // Invocation
  ERR_DIRECT_INVOKE: { httpStatus: 500, retryable: false },
  // Pub/sub and bindings
  ERR_PUBSUB_NOT_FOUND: { httpStatus: 404, retryable: false, reason: 'DAPR_PUBSUB_NOT_FOUND' },
  ERR_TOPIC_NAME_EMPTY: { httpStatus: 404, retryable: false },
  ERR_PUBSUB_REQUEST_METADATA: { httpStatus: 400, retryable: false },
  ERR_PUBSUB_CLOUD_EVENTS_SER: { httpStatus: 500, retryable: false },
  ERR_PUBSUB_EVENTS_SER: { httpStatus: 400, retryable: false },
  ERR_PUBSUB_PUBLISH_MESSAGE: { httpStatus: 500, retryable: true },
  ERR_INVOKE_OUTPUT_BINDING: { httpStatus: 500, retryable: false },
  // Secrets (daprd: an unknown store is 401, not 400)
  ERR_SECRET_STORES_NOT_CONFIGURED: { httpStatus: 500, retryable: false },
  ERR_SECRET_STORE_NOT_FOUND: { httpStatus: 401, retryable: false },
  ERR_PERMISSION_DENIED: { httpStatus: 403, retryable: false },
  ERR_SECRET_GET: { httpStatus: 500, retryable: true },
  // Configuration
  ERR_CONFIGURATION_STORE_NOT_CONFIGURED: { httpStatus: 500, retryable: false },
  ERR_CONFIGURATION_STORE_NOT_FOUND: { httpStatus: 400, retryable: false },
  ERR_CONFIGURATION_GET: { httpStatus: 500, retryable: true },
  ERR_CONFIGURATION_SUBSCRIBE: { httpStatus: 500, retryable: true },
  ERR_CONFIGURATION_UNSUBSCRIBE: { httpStatus: 500, retryable: false },
  // Distributed lock (daprd's codes) and fencing
  ERR_LOCK_STORE_NOT_CONFIGURED: { httpStatus: 500, retryable: false },
  ERR_LOCK_STORE_NOT_FOUND: { httpStatus: 400, retryable: false },
  ERR_TRY_LOCK: { httpStatus: 500, retryable: true },
  ERR_UNLOCK: { httpStatus: 500, retryable: true },
  ERR_LOCK_HELD: { httpStatus: 409, retryable: true },
  ERR_STATE_FENCING_TOKEN_STALE: { httpStatus: 409, retryable: false },
  // State query
  ERR_STATE_QUERY: { httpStatus: 500, retryable: false },
  // Actors
  ERR_ACTOR_INVOKE_METHOD: { httpStatus: 500, retryable: false },
  ERR_ACTOR_INSTANCE_MISSING: { httpStatus: 400, retryable: false },
  ERR_ACTOR_STATE_GET: { httpStatus: 500, retryable: true },
  ERR_ACTOR_STATE_TRANSACTION_SAVE: { httpStatus: 500, retryable: false },
  ERR_ACTOR_RUNTIME_NOT_FOUND: { httpStatus: 500, retryable: false },
  ERR_ACTOR_REMINDER_CREATE: { httpStatus: 500, retryable: false },
  ERR_ACTOR_REMINDER_GET: { httpStatus: 500, retryable: false },
  ERR_ACTOR_REMINDER_DELETE: { httpStatus: 500, retryable: false },
  ERR_ACTOR_REMINDER_NOT_FOUND: { httpStatus: 404, retryable: false },
  ERR_ACTOR_REMINDER_ALREADY_EXISTS: { httpStatus: 409, retryable: false },
  ERR_ACTOR_REMINDER_NON_HOSTED: { httpStatus: 403, retryable: false },
  ERR_ACTOR_TIMER_CREATE: { httpStatus: 500, retryable: false },
  ERR_ACTOR_TIMER_DELETE: { httpStatus: 500, retryable: false },
  ERR_ACTOR_STACK_DEPTH: { httpStatus: 500, retryable: false },
  ERR_ACTOR_RUNTIME_CLOSED: { httpStatus: 503, retryable: true },
  ERR_ACTOR_TYPE_RESERVED: { httpStatus: 403, retryable: false },
  ERR_ACTOR_NO_ADDRESS: { httpStatus: 404, retryable: true },
  ERR_BAD_REQUEST: { httpStatus: 400, retryable: false },
  // Health
  ERR_HEALTH_NOT_READY: { httpStatus: 500, retryable: true },
  ERR_HEALTH_APPID_NOT_MATCH: { httpStatus: 500, retryable: false },
  ERR_OUTBOUND_HEALTH_NOT_READY: { httpStatus: 500, retryable: true },
  // Workflows (daprd's codes and statuses)
  ERR_INSTANCE_ID_PROVIDED_MISSING: { httpStatus: 400, retryable: false },
  ERR_INSTANCE_ID_TOO_LONG: { httpStatus: 400, retryable: false },
  ERR_INSTANCE_ID_INVALID: { httpStatus: 400, retryable: false },
  ERR_INSTANCE_ID_NOT_FOUND: { httpStatus: 404, retryable: false },
  ERR_WORKFLOW_NAME_MISSING: { httpStatus: 400, retryable: false },
  ERR_WORKFLOW_EVENT_NAME_MISSING: { httpStatus: 400, retryable: false },
  ERR_START_WORKFLOW: { httpStatus: 500, retryable: false },
  ERR_GET_WORKFLOW: { httpStatus: 500, retryable: false },
  ERR_RAISE_EVENT_WORKFLOW: { httpStatus: 500, retryable: false },
  ERR_PAUSE_WORKFLOW: { httpStatus: 500, retryable: false },
  ERR_RESUME_WORKFLOW: { httpStatus: 500, retryable: false },
  ERR_TERMINATE_WORKFLOW: { httpStatus: 500, retryable: false },
  ERR_PURGE_WORKFLOW: { httpStatus: 500, retryable: false },
  // Sidekick's workflow listing (no daprd counterpart): a bad query
  ERR_LIST_WORKFLOWS: { httpStatus: 400, retryable: false },
  ERR_BODY_READ: { httpStatus: 400, retryable: false },
  ERR_WORKFLOW_TASK_FAILED: { httpStatus: 500, retryable: false },
  ERR_WORKFLOW_EVENT_TIMEOUT: { httpStatus: 500, retryable: false },
  ERR_WORKFLOW_NON_DETERMINISTIC: { httpStatus: 500, retryable: false },
  // Control flow of handlers (never answered over HTTP)
  DROP: { httpStatus: 500, retryable: false },
  RETRY: { httpStatus: 500, retryable: true },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof table;

export const ERROR_CODES: Readonly<Record<ErrorCode, ErrorCodeInfo>> = table;

/** The table entry of a code; unknown codes are internal errors (500, not retryable). */
export function errorCodeInfo(code: string): ErrorCodeInfo {
  return (table as Record<string, ErrorCodeInfo>)[code] ?? { httpStatus: 500, retryable: false };
}
