import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { activityNameOf } from '../../../decorators/workflow.decorator';
import { NonDeterminismError, TaskFailedError, WorkflowEventTimeoutError, type WorkflowFailureDetails } from '../../../errors/workflow.errors';
import type { SidekickLogger } from '../../../spi/logger';
import { failureOf, type HistoryEvent } from './workflow.types';
import { Task } from './workflow.task';
import type { CallActivityOptions, StepResult, WaitForEventOptions, WhenAnyResult, WorkflowContext, WorkflowFn } from './workflow.context';

export type { CallActivityOptions, StepResult, WaitForEventOptions, WhenAnyResult, WorkflowContext, WorkflowFn } from './workflow.context';

type ActionEvent = Extract<HistoryEvent, { type: 'TaskScheduled' | 'TimerCreated' | 'SubOrchestrationCreated' }>;
type ResultEvent = Extract<
  HistoryEvent,
  { type: 'TaskCompleted' | 'TaskFailed' | 'TimerFired' | 'EventRaised' | 'SubOrchestrationCompleted' | 'SubOrchestrationFailed' }
>;

interface PendingStep {
  readonly task: Task<unknown>;
  readonly what: string;
}

/**
 * Runs one workflow instance's code over its history. `replay(history)` rebuilds the code's state
 * from recorded events (no new actions may differ from the recorded ones); `process(events)` feeds
 * new events and returns the actions the code took. Between two events the code runs until it waits
 * again (its microtasks drain), in the same order live and in replay: that is the determinism contract.
 */
export class WorkflowRunner implements WorkflowContext {
  isReplaying = false;
  currentUtcDateTime = new Date(0);
  readonly logger: SidekickLogger;
  private seq = 0;
  private guids = 0;
  private customStatus: unknown;
  private customStatusSet = false;
  private readonly pending = new Map<number, PendingStep>();
  private readonly recorded = new Map<number, ActionEvent>();
  private readonly matched = new Set<number>();
  private readonly waiters = new Map<string, Task<unknown>[]>();
  private readonly buffered = new Map<string, unknown[]>();
  private actions: HistoryEvent[] = [];
  private ended?: Extract<HistoryEvent, { type: 'ExecutionCompleted' }>;
  private divergence?: string;
  private suspended = false;
  private readonly done = new Set<number>();
  private next?: { readonly input: unknown };
  private readonly recordedPatches = new Set<string>();
  private readonly patches = new Map<string, boolean>();
  private deferred: HistoryEvent[] = [];

  constructor(
    readonly instanceId: string,
    readonly workflowName: string,
    private readonly fn: WorkflowFn,
    logger: SidekickLogger,
  ) {
    const quiet = (level: 'debug' | 'info' | 'warn' | 'error') => (obj: object, msg?: string) => {
      if (!this.isReplaying) logger[level](obj, msg);
    };
    this.logger = { debug: quiet('debug'), info: quiet('info'), warn: quiet('warn'), error: quiet('error'), child: () => this.logger };
  }

  get isSuspended(): boolean {
    return this.suspended;
  }

  get status(): { readonly set: boolean; readonly value: unknown } {
    return { set: this.customStatusSet, value: this.customStatus };
  }

  /** Rebuilds the code's state from recorded history; fails (a `StepResult` with an end) on divergence. */
  async replay(history: readonly HistoryEvent[]): Promise<StepResult> {
    for (const event of history) {
      if (event.type === 'TaskScheduled' || event.type === 'TimerCreated' || event.type === 'SubOrchestrationCreated') this.recorded.set(event.id, event);
      if (event.type === 'PatchApplied') this.recordedPatches.add(event.name);
    }
    this.isReplaying = true;
    try {
      await this.feed(history);
    } finally {
      this.isReplaying = false;
    }
    if (!this.ended && !this.divergence) {
      const missing = [...this.recorded.values()].filter((a) => !this.matched.has(a.id));
      const first = missing[0];
      if (first) this.divergence = `step ${first.id}: the history has ${describe(first)}, which the workflow code no longer makes`;
    }
    return this.result();
  }

  /** Feeds new events; returns the actions taken (to record, then carry out). */
  async process(events: readonly HistoryEvent[]): Promise<StepResult> {
    this.actions = [];
    await this.feed(events);
    return this.result();
  }

  // ---- the context API ----

  callActivity<T = unknown>(activity: string | ((...args: never[]) => unknown), input?: unknown, options: CallActivityOptions = {}): Task<T> {
    const name = typeof activity === 'string' ? activity : activityNameOf(activity);
    if (name === undefined) throw new TypeError('callActivity(ref): the function carries no @Activity(name)');
    const policy = options.retryPolicy;
    if (!policy) return this.scheduleActivity<T>(name, input);
    const task = new Task<T>();
    const started = this.currentUtcDateTime.getTime();
    const attempt = async (): Promise<T> => {
      for (let n = 1; ; n++) {
        try {
          return await this.scheduleActivity<T>(name, input);
        } catch (err) {
          const delay = Math.min(
            policy.firstRetryIntervalInMilliseconds * (policy.backoffCoefficient ?? 1) ** (n - 1),
            policy.maxRetryIntervalInMilliseconds ?? Number.POSITIVE_INFINITY,
          );
          const outOfTime =
            policy.retryTimeoutInMilliseconds !== undefined && this.currentUtcDateTime.getTime() + delay - started > policy.retryTimeoutInMilliseconds;
          if (!(err instanceof TaskFailedError) || n >= policy.maxNumberOfAttempts || outOfTime) throw err;
          await this.createTimer(delay);
        }
      }
    };
    attempt().then(
      (v) => task.complete(v),
      (e: unknown) => task.fail(e),
    );
    return task;
  }

  callChildWorkflow<T = unknown>(name: string, input?: unknown, options: { readonly instanceId?: string } = {}): Task<T> {
    const instanceId = options.instanceId ?? `${this.instanceId}-child-${this.seq}`;
    return this.act<T>(
      { type: 'SubOrchestrationCreated', at: this.currentUtcDateTime.getTime(), id: this.seq, name, instanceId, input },
      `callChildWorkflow("${name}")`,
    );
  }

  createTimer(dueOrDelay: Date | number): Task<void> {
    const fireAt = dueOrDelay instanceof Date ? dueOrDelay.getTime() : this.currentUtcDateTime.getTime() + Math.max(0, dueOrDelay);
    if (!Number.isFinite(fireAt)) throw new TypeError(`createTimer: ${String(dueOrDelay)} is not a time`);
    return this.act<void>(
      { type: 'TimerCreated', at: this.currentUtcDateTime.getTime(), id: this.seq, fireAt },
      `createTimer(${new Date(fireAt).toISOString()})`,
    );
  }

  waitForExternalEvent<T = unknown>(name: string, options: WaitForEventOptions = {}): Task<T> {
    const key = name.toLowerCase();
    const task = new Task<T>();
    const queued = this.buffered.get(key);
    if (queued && queued.length > 0) {
      task.complete(queued.shift() as T);
      return task;
    }
    const list = this.waiters.get(key) ?? [];
    list.push(task as Task<unknown>);
    this.waiters.set(key, list);
    if (options.timeout !== undefined) {
      const timeout = options.timeout;
      this.createTimer(timeout).then(
        () => {
          if (task.isComplete) return;
          const waiting = this.waiters.get(key) ?? [];
          waiting.splice(waiting.indexOf(task as Task<unknown>), 1);
          task.fail(new WorkflowEventTimeoutError(name, timeout));
        },
        () => undefined,
      );
    }
    return task;
  }

  whenAll<T>(tasks: readonly Task<T>[]): Task<T[]> {
    const all = new Task<T[]>();
    Promise.all(tasks).then(
      (values) => all.complete(values),
      (e: unknown) => all.fail(e),
    );
    return all;
  }

  whenAny<T>(tasks: readonly Task<T>[]): Task<WhenAnyResult<T>> {
    const any = new Task<WhenAnyResult<T>>();
    const first = (index: number): WhenAnyResult<T> => ({ task: tasks[index] as Task<T>, index });
    void Promise.race(
      tasks.map((t, i) =>
        t.then(
          () => first(i),
          () => first(i),
        ),
      ),
    ).then((r) => any.complete(r));
    return any;
  }

  newGuid(): string {
    const hash = createHash('sha1').update(`${this.instanceId}_${this.currentUtcDateTime.toISOString()}_${this.guids++}`).digest();
    hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
    hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
    const hex = hash.subarray(0, 16).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  }

  isPatched(name: string): boolean {
    let patched = this.patches.get(name);
    if (patched === undefined) {
      patched = this.recordedPatches.has(name) || !this.isReplaying;
      this.patches.set(name, patched);
      if (patched && !this.recordedPatches.has(name) && !this.ended) this.actions.push({ type: 'PatchApplied', at: this.currentUtcDateTime.getTime(), name });
    }
    return patched;
  }

  continueAsNew(input: unknown): void {
    this.next = { input };
  }

  setCustomStatus(status: unknown): void {
    this.customStatus = status;
    this.customStatusSet = true;
  }

  // ---- internals ----

  private scheduleActivity<T>(name: string, input: unknown): Task<T> {
    return this.act<T>({ type: 'TaskScheduled', at: this.currentUtcDateTime.getTime(), id: this.seq, name, input }, `callActivity("${name}")`);
  }

  /** Records (or, in replay, matches) an action with the next sequence id. */
  private act<T>(action: ActionEvent, what: string): Task<T> {
    const id = this.seq++;
    const task = new Task<T>();
    this.pending.set(id, { task: task as Task<unknown>, what });
    const recorded = this.recorded.get(id);
    if (recorded) {
      this.matched.add(id);
      if (recorded.type !== action.type || ('name' in recorded && 'name' in action && recorded.name !== action.name)) {
        this.divergence ??= `step ${id}: the history has ${describe(recorded)} but the workflow code now calls ${what}`;
      } else if (recorded.type === 'TaskScheduled' && action.type === 'TaskScheduled' && json(recorded.input) !== json(action.input)) {
        this.divergence ??= `step ${id}: the history has ${describe(recorded)} with input ${json(recorded.input)} but the workflow code now calls it with input ${json(action.input)}`;
      }
    } else if (!this.ended) {
      this.actions.push(action);
    }
    return task;
  }

  private async feed(events: readonly HistoryEvent[]): Promise<void> {
    for (const event of events) {
      if (this.ended || this.divergence) return;
      await this.apply(event);
    }
  }

  private async apply(event: HistoryEvent): Promise<void> {
    switch (event.type) {
      case 'OrchestratorStarted':
        this.currentUtcDateTime = new Date(event.at);
        return;
      case 'ExecutionStarted':
        this.start(event.input);
        break;
      case 'ExecutionSuspended':
        this.suspended = true;
        return;
      case 'ExecutionResumed': {
        this.suspended = false;
        const later = this.deferred;
        this.deferred = [];
        await this.feed(later);
        return;
      }
      case 'ExecutionTerminated':
        this.ended = { type: 'ExecutionCompleted', at: event.at, status: 'TERMINATED', output: event.output };
        return;
      case 'TaskCompleted':
      case 'TaskFailed':
      case 'TimerFired':
      case 'EventRaised':
      case 'SubOrchestrationCompleted':
      case 'SubOrchestrationFailed':
        if (this.suspended) {
          this.deferred.push(event);
          return;
        }
        this.deliver(event);
        break;
      default:
        return; // action events are matched by the code's calls; ExecutionCompleted ends nothing further
    }
    await nextTurn(); // let the code run until it waits again
  }

  private start(input: unknown): void {
    Promise.resolve()
      .then(() => this.fn(this, input))
      .then(
        (output) => {
          const at = this.currentUtcDateTime.getTime();
          this.ended ??= this.next
            ? { type: 'ExecutionCompleted', at, status: 'CONTINUED_AS_NEW', output: this.next.input }
            : { type: 'ExecutionCompleted', at, status: 'COMPLETED', output };
        },
        (err: unknown) => {
          this.ended ??= { type: 'ExecutionCompleted', at: this.currentUtcDateTime.getTime(), status: 'FAILED', failure: failureOf(err) };
        },
      );
  }

  private deliver(event: ResultEvent): void {
    if (event.type === 'EventRaised') {
      const key = event.name.toLowerCase();
      const waiter = this.waiters.get(key)?.shift();
      if (waiter) waiter.complete(event.input);
      else this.buffered.set(key, [...(this.buffered.get(key) ?? []), event.input]);
      return;
    }
    const step = this.pending.get(event.taskId);
    if (!step && this.done.has(event.taskId)) return; // a second result of a step run again (at least once)
    if (!step) {
      const recorded = this.recorded.get(event.taskId);
      this.divergence ??=
        recorded && !this.matched.has(event.taskId)
          ? `step ${event.taskId}: the history has ${describe(recorded)}, which the workflow code no longer makes`
          : `step ${event.taskId}: the history has a result for it, but the workflow code made no such step`;
      return;
    }
    this.pending.delete(event.taskId);
    this.done.add(event.taskId);
    if (event.type === 'TaskFailed' || event.type === 'SubOrchestrationFailed')
      step.task.fail(new TaskFailedError(`step ${event.taskId} (${step.what})`, event.failure));
    else step.task.complete(event.type === 'TaskCompleted' || event.type === 'SubOrchestrationCompleted' ? event.result : undefined);
  }

  private result(): StepResult {
    if (this.divergence && !this.ended) {
      const failure: WorkflowFailureDetails = failureOf(new NonDeterminismError(`non-deterministic workflow "${this.workflowName}": ${this.divergence}`));
      this.ended = { type: 'ExecutionCompleted', at: this.currentUtcDateTime.getTime(), status: 'FAILED', failure };
    }
    return { actions: this.actions, completed: this.ended };
  }
}

function describe(action: ActionEvent): string {
  if (action.type === 'SubOrchestrationCreated') return `callChildWorkflow("${action.name}")`;
  return action.type === 'TaskScheduled' ? `callActivity("${action.name}")` : `createTimer(${new Date(action.fireAt).toISOString()})`;
}

function json(value: unknown): string {
  return JSON.stringify(value) ?? 'undefined';
}
