import type { WorkflowFailureDetails } from '../../../errors/workflow.errors';

/** Dapr's runtime statuses (`runtimeStatus` over HTTP). */
export type WorkflowStatus = 'PENDING' | 'RUNNING' | 'SUSPENDED' | 'COMPLETED' | 'FAILED' | 'TERMINATED' | 'CONTINUED_AS_NEW';

export const TERMINAL_STATUSES: readonly WorkflowStatus[] = ['COMPLETED', 'FAILED', 'TERMINATED'];

/**
 * One event of an instance's history (Durable Task's event sourcing). Action events
 * (`TaskScheduled`, `TimerCreated`) carry the sequence id the workflow code gave the step; result
 * events (`TaskCompleted`, `TaskFailed`, `TimerFired`) name it in `taskId`. `at` is epoch ms.
 */
export type HistoryEvent =
  | { readonly type: 'ExecutionStarted'; readonly at: number; readonly name: string; readonly input?: unknown }
  | { readonly type: 'OrchestratorStarted'; readonly at: number }
  | { readonly type: 'TaskScheduled'; readonly at: number; readonly id: number; readonly name: string; readonly input?: unknown }
  | { readonly type: 'TaskCompleted'; readonly at: number; readonly taskId: number; readonly result?: unknown }
  | { readonly type: 'TaskFailed'; readonly at: number; readonly taskId: number; readonly failure: WorkflowFailureDetails }
  | { readonly type: 'TimerCreated'; readonly at: number; readonly id: number; readonly fireAt: number }
  | { readonly type: 'TimerFired'; readonly at: number; readonly taskId: number }
  | {
      readonly type: 'SubOrchestrationCreated';
      readonly at: number;
      readonly id: number;
      readonly name: string;
      readonly instanceId: string;
      readonly input?: unknown;
    }
  | { readonly type: 'SubOrchestrationCompleted'; readonly at: number; readonly taskId: number; readonly result?: unknown }
  | { readonly type: 'SubOrchestrationFailed'; readonly at: number; readonly taskId: number; readonly failure: WorkflowFailureDetails }
  | { readonly type: 'PatchApplied'; readonly at: number; readonly name: string }
  | { readonly type: 'EventRaised'; readonly at: number; readonly name: string; readonly input?: unknown }
  | { readonly type: 'ExecutionSuspended'; readonly at: number; readonly reason?: string }
  | { readonly type: 'ExecutionResumed'; readonly at: number; readonly reason?: string }
  | { readonly type: 'ExecutionTerminated'; readonly at: number; readonly output?: unknown }
  | {
      readonly type: 'ExecutionCompleted';
      readonly at: number;
      /** CONTINUED_AS_NEW: `output` is the next execution's input. */
      readonly status: 'COMPLETED' | 'FAILED' | 'TERMINATED' | 'CONTINUED_AS_NEW';
      readonly output?: unknown;
      readonly failure?: WorkflowFailureDetails;
    };

/** What a workflow instance looks like from outside (`WorkflowClient.get`). */
export interface WorkflowState {
  readonly instanceId: string;
  readonly name: string;
  readonly status: WorkflowStatus;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly customStatus?: unknown;
  readonly failure?: WorkflowFailureDetails;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly lastUpdatedAt: number;
  /** Epoch ms: the start time given to `schedule` (Durable Task's `scheduledStartTimestamp`), when in the future then. */
  readonly scheduledStartAt?: number;
}

/** The record stored per instance next to its history chunks. */
export interface InstanceRecord extends WorkflowState {
  /** How many history chunks are stored (`wf-h:<id>:0` ... `:<chunks-1>`). */
  readonly chunks: number;
  /** Set on a child workflow: the parent and the step waiting for it. */
  readonly parent?: { readonly instanceId: string; readonly taskId: number };
  /** The process (member of `wf-members`) that drives the instance; events from others go to its inbox. */
  readonly owner?: string;
}

/**
 * Retries of an activity, decided by the workflow (so they replay): after a failure, wait
 * `firstRetryIntervalInMilliseconds × backoffCoefficient^(attempt-1)` (capped by
 * `maxRetryIntervalInMilliseconds`) on a durable timer and call again, up to `maxNumberOfAttempts`
 * calls in all and within `retryTimeoutInMilliseconds` of the first. The names are `@dapr/dapr`'s.
 */
export interface RetryPolicy {
  readonly maxNumberOfAttempts: number;
  readonly firstRetryIntervalInMilliseconds: number;
  readonly backoffCoefficient?: number;
  readonly maxRetryIntervalInMilliseconds?: number;
  readonly retryTimeoutInMilliseconds?: number;
}

/** What an activity is called with, next to its input. */
export interface ActivityContext {
  readonly workflowInstanceId: string;
  readonly activityName: string;
  /** The step's sequence id in the workflow. */
  readonly taskId: number;
  /**
   * The same for every run of this step (activities run at least once: a crash between the run and
   * the record of its result runs it again). Use it to make side effects idempotent.
   */
  readonly idempotencyKey: string;
}

/** Both failures and outputs are stored as JSON: what survives a round trip. */
export function failureOf(err: unknown): WorkflowFailureDetails {
  if (err instanceof Error) return { errorType: err.name || 'Error', message: err.message, stackTrace: err.stack };
  return { errorType: 'Error', message: typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err)) };
}
