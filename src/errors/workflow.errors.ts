import { SidekickError } from './sidekick.error';

/** What a failed activity, workflow or non-deterministic replay reports (Dapr's `FailureDetails`). */
export interface WorkflowFailureDetails {
  readonly errorType: string;
  readonly message: string;
  readonly stackTrace?: string;
}

/** An activity (after its retries) failed: what `await ctx.callActivity(...)` throws in the workflow. */
export class TaskFailedError extends SidekickError {
  readonly details: WorkflowFailureDetails;

  constructor(what: string, details: WorkflowFailureDetails) {
    super('ERR_WORKFLOW_TASK_FAILED', `${what} failed: ${details.errorType}: ${details.message}`);
    this.details = details;
  }
}

/** `waitForExternalEvent(name, { timeout })` timed out before the event arrived. */
export class WorkflowEventTimeoutError extends SidekickError {
  constructor(event: string, timeoutMs: number) {
    super('ERR_WORKFLOW_EVENT_TIMEOUT', `external event "${event}" did not arrive within ${timeoutMs} ms`);
  }
}

/**
 * The workflow code no longer matches its recorded history: the instance fails with this error,
 * naming the step and what differed.
 */
export class NonDeterminismError extends SidekickError {
  constructor(message: string) {
    super('ERR_WORKFLOW_NON_DETERMINISTIC', message);
  }
}

/** A workflow operation answered with one of daprd's workflow codes. */
export class WorkflowApiError extends SidekickError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}
