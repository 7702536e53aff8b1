import type { SidekickLogger } from '../../../spi/logger';
import type { Task } from './workflow.task';
import type { HistoryEvent, RetryPolicy } from './workflow.types';

/** A registered workflow function: `(ctx, input) => output`. */
export type WorkflowFn = (ctx: WorkflowContext, input: unknown) => unknown;

export interface CallActivityOptions {
  readonly retryPolicy?: RetryPolicy;
}

export interface WaitForEventOptions {
  /** Milliseconds (of the workflow's clock) after which the wait fails with `WorkflowEventTimeoutError`. */
  readonly timeout?: number;
}

/** What a workflow function works with. Everything on it is deterministic under replay. */
export interface WorkflowContext {
  readonly instanceId: string;
  readonly workflowName: string;
  /** True while the runtime replays recorded history (to skip side effects such as logs). */
  readonly isReplaying: boolean;
  /** The time of the current step (recorded, so replays see the same): never read `Date.now()`. */
  readonly currentUtcDateTime: Date;
  /** Logs only when not replaying. */
  readonly logger: SidekickLogger;
  /** Calls an activity by name or by a reference to its `@Activity` method. */
  callActivity<T = unknown>(activity: string | ((...args: never[]) => unknown), input?: unknown, options?: CallActivityOptions): Task<T>;
  /**
   * Starts workflow `name` as a child (its id: `options.instanceId`, or `<this id>-child-<step>`) and
   * completes with its output; a child that fails or is terminated throws `TaskFailedError` here.
   */
  callChildWorkflow<T = unknown>(name: string, input?: unknown, options?: { readonly instanceId?: string }): Task<T>;
  /** A durable timer: a `Date` to fire at, or milliseconds from `currentUtcDateTime`. */
  createTimer(dueOrDelay: Date | number): Task<void>;
  /** Waits for an event raised on this instance (names are case-insensitive). */
  waitForExternalEvent<T = unknown>(name: string, options?: WaitForEventOptions): Task<T>;
  /** Completes when every task has; fails with the first failure. */
  whenAll<T>(tasks: readonly Task<T>[]): Task<T[]>;
  /**
   * Completes with the first task to finish (completed or failed), as `{ task, index }` (a task is
   * awaitable, so it cannot itself be what an `await` gives).
   */
  whenAny<T>(tasks: readonly Task<T>[]): Task<WhenAnyResult<T>>;
  /** A UUID that is the same on every replay. */
  newGuid(): string;
  /**
   * Versioning: true when this instance runs the code after patch `name` (it started, or reached this
   * point, after the patch was deployed), false when its recorded history predates the patch. The
   * answer is recorded, so it stays the same for the instance. Keep both branches until no instance
   * that answered false is running.
   */
  isPatched(name: string): boolean;
  /** Shown as `customStatus` (`dapr.workflow.custom_status`) once the current step is recorded. */
  setCustomStatus(status: unknown): void;
  /**
   * When the workflow function returns, starts it again with `input` and an empty history (same
   * instance id): for eternal or long-looping workflows. The return value is then ignored.
   */
  continueAsNew(input: unknown): void;
}

/** What `whenAny` gives: the first task to finish and its position in the list. */
export interface WhenAnyResult<T> {
  readonly task: Task<T>;
  readonly index: number;
}

/** The outcome of feeding events: the new actions, and the end when the instance ended. */
export interface StepResult {
  readonly actions: HistoryEvent[];
  readonly completed?: Extract<HistoryEvent, { type: 'ExecutionCompleted' }>;
}
