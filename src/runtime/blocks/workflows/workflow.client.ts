import { withDeadline } from '../../../spi/clock';
import { WorkflowApiError } from '../../../errors/workflow.errors';
import type { WorkflowEngine } from './workflow.engine';
import type { WorkflowPage, WorkflowQuery } from './workflow.query';
import { startTimeOf } from './workflow.schedule';
import type { WorkflowState } from './workflow.types';

export interface ScheduleOptions {
  /** Defaults to a random UUID. Letters, digits, `_` and `-`, at most 64 characters (daprd's rule). */
  readonly instanceId?: string;
  readonly input?: unknown;
  /**
   * When to start (Durable Task's `scheduledStartTimestamp`): until then the instance is PENDING, held
   * in the store (a restart keeps it). A time not in the future starts it at once; an invalid one is
   * `ERR_START_WORKFLOW`. A Date, epoch milliseconds or an RFC 3339 string.
   */
  readonly startAt?: Date | number | string;
}

/**
 * Manages workflow instances (also `SidekickClient.workflows`): the same code paths as the
 * `/v1.0-beta1/workflows/dapr/...` routes. Errors are `SidekickError`s with daprd's workflow codes.
 */
export class WorkflowClient {
  constructor(private readonly engine: () => WorkflowEngine) {}

  /** Starts an instance of workflow `name`; resolves with its id once it is recorded. */
  async schedule(name: string, options: ScheduleOptions = {}): Promise<string> {
    return this.engine().start(name, options.instanceId, options.input, undefined, startTimeOf(name, options.startAt));
  }

  /**
   * A page of instances by status, name, id prefix and creation time (Durable Task's
   * `OrchestrationQuery`), ordered by creation time then id; pass the page's `continuationToken` for
   * the next. A bad query is `ERR_LIST_WORKFLOWS` (HTTP 400) naming the field.
   */
  list(query: WorkflowQuery = {}): Promise<WorkflowPage> {
    return this.engine().list(query);
  }

  /** The instance's state, or undefined when there is none. */
  get(instanceId: string): Promise<WorkflowState | undefined> {
    return this.engine().get(instanceId);
  }

  /** Resolves when the instance has started running (left PENDING); rejects after `timeoutMs` of real time. */
  waitForStart(instanceId: string, timeoutMs = 60_000): Promise<WorkflowState> {
    return withDeadline(
      timeoutMs,
      () => this.engine().waitForStart(instanceId, timeoutMs),
      () => new WorkflowApiError('ERR_GET_WORKFLOW', `workflow instance '${instanceId}' did not start within ${timeoutMs} ms`),
    );
  }

  /** Resolves when the instance has ended (COMPLETED, FAILED, TERMINATED); rejects after `timeoutMs` of real time. */
  waitForCompletion(instanceId: string, timeoutMs = 60_000): Promise<WorkflowState> {
    return withDeadline(
      timeoutMs,
      () => this.engine().waitForCompletion(instanceId, timeoutMs),
      () => new WorkflowApiError('ERR_GET_WORKFLOW', `workflow instance '${instanceId}' did not end within ${timeoutMs} ms`),
    );
  }

  raiseEvent(instanceId: string, eventName: string, data?: unknown): Promise<void> {
    return this.engine().raiseEvent(instanceId, eventName, data);
  }

  suspend(instanceId: string, reason?: string): Promise<void> {
    return this.engine().suspend(instanceId, reason);
  }

  resume(instanceId: string, reason?: string): Promise<void> {
    return this.engine().resumeInstance(instanceId, reason);
  }

  /** Ends a running instance with status TERMINATED (its activities in flight finish, unrecorded). */
  terminate(instanceId: string, output?: unknown): Promise<void> {
    return this.engine().terminate(instanceId, output);
  }

  /** Deletes an ended instance's record and history. */
  purge(instanceId: string): Promise<void> {
    return this.engine().purge(instanceId);
  }
}
