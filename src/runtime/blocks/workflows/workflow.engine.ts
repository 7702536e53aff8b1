import { randomUUID } from 'node:crypto';
import { WorkflowApiError } from '../../../errors/workflow.errors';
import type { Clock, TimerHandle } from '../../../spi/clock';
import type { SidekickLogger } from '../../../spi/logger';
import { WorkflowRunner } from './workflow.runner';
import type { WorkflowFn } from './workflow.context';
import { ActivityNotRegisteredError, checkInstanceId, childResult, jsonCopy, jsonOr, missingWorkflow } from './workflow.values';
import type { WorkflowStore } from './workflow.store';
import type { WorkflowPage, WorkflowQuery } from './workflow.query';
import { armAt, notStartedYet, terminatedBeforeStart, waitingToStart } from './workflow.schedule';
import { type ActivityContext, failureOf, type HistoryEvent, type InstanceRecord, TERMINAL_STATUSES, type WorkflowState } from './workflow.types';

export type ActivityFn = (ctx: ActivityContext, input: unknown) => unknown;

interface InboxItem {
  readonly event: HistoryEvent;
  /** Resolved once the event is recorded (raise, suspend, resume, terminate wait for it). */
  readonly recorded?: { resolve: () => void; reject: (err: unknown) => void };
  /** For results of activities and timers: the execution they belong to (continue-as-new starts another). */
  readonly generation?: number;
}

interface Instance {
  record: InstanceRecord;
  runner?: WorkflowRunner;
  /** History to replay when the runner is (re)built; dropped once it is. */
  history?: HistoryEvent[];
  /** Recorded events the code has not seen yet (a new instance's start): fed live, not recorded again. */
  fresh?: HistoryEvent[];
  inbox: InboxItem[];
  busy: boolean;
  /** Counts continue-as-new restarts in this process, so results of the previous execution are dropped. */
  generation: number;
  readonly timers: Set<TimerHandle>;
  /** Child workflow ids started by this instance (terminated with it). */
  readonly children: Set<string>;
  readonly done: (() => void)[];
  /** Waiting for the first step to be recorded (`waitForStart`). */
  readonly started: (() => void)[];
  /** A scheduled instance before its start time (epoch ms): its code does not run yet. */
  notBefore?: number;
}

const MAX_TIMER_MS = 2_147_483_647;

/**
 * Drives workflow instances in this process: one step at a time per instance (take the inbox, run the
 * code over it, record the new events and the record in one write, then carry out the actions:
 * activities and timers). Instances in memory are the active ones; their history is in the store.
 */
export class WorkflowEngine {
  private readonly instances = new Map<string, Instance>();
  private stopped = false;
  /** Steps being driven (awaited by `stop`). */
  private readonly driving = new Set<Promise<void>>();

  constructor(
    private readonly store: WorkflowStore,
    private readonly workflows: ReadonlyMap<string, WorkflowFn>,
    private readonly activities: ReadonlyMap<string, ActivityFn>,
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
  ) {}

  /** Resumes the active instances recorded in the store (activities without results run again). */
  async resume(): Promise<number> {
    const ids = await this.store.activeIds();
    for (const id of ids) {
      const record = await this.store.record(id);
      if (!record || TERMINAL_STATUSES.includes(record.status)) continue;
      const history = await this.store.history(record);
      const inst = this.add(record, history);
      if (waitingToStart(record, this.clock.now())) {
        this.armStart(inst, record.scheduledStartAt ?? 0);
        continue;
      }
      this.redispatch(inst, history);
      this.enqueue(inst, undefined);
    }
    return ids.length;
  }

  /** Stops taking events, clears the timers, and waits (up to `waitMs`) for the steps being recorded. */
  async stop(waitMs: number): Promise<void> {
    this.stopped = true;
    for (const inst of this.instances.values()) for (const t of inst.timers) this.clock.clearTimeout(t);
    if (this.driving.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.driving]), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  /** `startAt` (epoch ms, in the future): the instance stays PENDING until then (workflow.schedule.ts). */
  async start(name: string, instanceId: string | undefined, input: unknown, parent?: InstanceRecord['parent'], startAt?: number): Promise<string> {
    if (!this.workflows.has(name)) {
      throw new WorkflowApiError(
        'ERR_START_WORKFLOW',
        `error starting workflow '${name}': workflow "${name}" is not registered; registered workflows: ${[...this.workflows.keys()].join(', ') || 'none'}`,
      );
    }
    const id = instanceId ?? randomUUID();
    if (!parent) checkInstanceId(id);
    input = jsonCopy(input, (reason) => new WorkflowApiError('ERR_START_WORKFLOW', `error starting workflow '${name}': the input is not JSON: ${reason}`));
    const existing = this.instances.get(id)?.record ?? (await this.store.record(id));
    if (existing && !TERMINAL_STATUSES.includes(existing.status)) {
      throw new WorkflowApiError('ERR_START_WORKFLOW', `error starting workflow '${name}': an active workflow with ID '${id}' already exists`);
    }
    if (existing) await this.store.purge(existing);
    const now = this.clock.now();
    const scheduled = startAt !== undefined && startAt > now ? { scheduledStartAt: startAt } : {};
    const first: HistoryEvent[] = [
      // a scheduled instance's code first runs at its start time, and sees that time (live and in replay)
      { type: 'OrchestratorStarted', at: scheduled.scheduledStartAt ?? now },
      { type: 'ExecutionStarted', at: now, name, input },
    ];
    const record: InstanceRecord = { instanceId: id, name, status: 'PENDING', input, createdAt: now, lastUpdatedAt: now, chunks: 1, parent, ...scheduled };
    await this.store.write({ record, chunk: first, active: true });
    const inst = this.add(record, undefined);
    inst.fresh = first;
    if (record.scheduledStartAt !== undefined) this.armStart(inst, record.scheduledStartAt);
    else this.enqueue(inst, undefined);
    return id;
  }

  /** Instances by status, name and creation time (the store's status index; workflow.query.ts). */
  list(query: WorkflowQuery): Promise<WorkflowPage> {
    return this.store.list(query);
  }

  /** Holds a scheduled instance until `at`, then runs its first step. */
  private armStart(inst: Instance, at: number): void {
    inst.notBefore = at;
    armAt(this.clock, at, inst.timers, () => {
      inst.notBefore = undefined;
      this.enqueue(inst, undefined);
    });
  }

  /** Ends a scheduled instance before its start time: TERMINATED, its code never ran. */
  private async terminateBeforeStart(inst: Instance, output: unknown): Promise<void> {
    const { record, chunk } = terminatedBeforeStart(inst.record, output, this.clock.now());
    for (const t of inst.timers) this.clock.clearTimeout(t);
    inst.timers.clear();
    try {
      await this.store.write({ record, chunk, active: false });
    } catch (err) {
      this.armStart(inst, inst.notBefore ?? this.clock.now());
      throw err;
    }
    inst.record = record;
    inst.notBefore = undefined;
    this.finish(inst);
  }

  async get(instanceId: string): Promise<WorkflowState | undefined> {
    const record = this.instances.get(instanceId)?.record ?? (await this.store.record(instanceId));
    if (!record) return undefined;
    const { chunks: _chunks, parent: _parent, ...state } = record;
    return state;
  }

  /** Resolves once the instance has left PENDING (its code ran a first step), or at once if it has. */
  async waitForStart(instanceId: string): Promise<WorkflowState> {
    const inst = this.instances.get(instanceId);
    if (inst && inst.record.status === 'PENDING') await new Promise<void>((resolve) => inst.started.push(resolve));
    const state = await this.get(instanceId);
    if (!state) throw new WorkflowApiError('ERR_INSTANCE_ID_NOT_FOUND', `unable to find workflow with instance ID '${instanceId}'`);
    return state;
  }

  /** Resolves once the instance is COMPLETED, FAILED or TERMINATED (or at once if it is). */
  async waitForCompletion(instanceId: string): Promise<WorkflowState> {
    const inst = this.instances.get(instanceId);
    if (inst && !TERMINAL_STATUSES.includes(inst.record.status)) await new Promise<void>((resolve) => inst.done.push(resolve));
    const state = await this.get(instanceId);
    if (!state) throw new WorkflowApiError('ERR_INSTANCE_ID_NOT_FOUND', `unable to find workflow with instance ID '${instanceId}'`);
    return state;
  }

  raiseEvent(instanceId: string, name: string, data: unknown): Promise<void> {
    const input = jsonCopy(
      data,
      (reason) => new WorkflowApiError('ERR_RAISE_EVENT_WORKFLOW', `error raising event '${name}': the data is not JSON: ${reason}`),
    );
    return this.control(instanceId, 'ERR_RAISE_EVENT_WORKFLOW', 'raising event on', { type: 'EventRaised', at: this.clock.now(), name, input });
  }

  suspend(instanceId: string, reason?: string): Promise<void> {
    return this.control(instanceId, 'ERR_PAUSE_WORKFLOW', 'pausing', { type: 'ExecutionSuspended', at: this.clock.now(), reason });
  }

  resumeInstance(instanceId: string, reason?: string): Promise<void> {
    return this.control(instanceId, 'ERR_RESUME_WORKFLOW', 'resuming', { type: 'ExecutionResumed', at: this.clock.now(), reason });
  }

  async terminate(instanceId: string, output?: unknown): Promise<void> {
    const inst = this.instances.get(instanceId);
    if (!inst) {
      if (await this.store.record(instanceId)) return; // already ended: nothing to do (as daprd)
      throw new WorkflowApiError('ERR_INSTANCE_ID_NOT_FOUND', `unable to find workflow with instance ID '${instanceId}'`);
    }
    if (inst.notBefore !== undefined) return this.terminateBeforeStart(inst, output);
    await this.control(instanceId, 'ERR_TERMINATE_WORKFLOW', 'terminating', { type: 'ExecutionTerminated', at: this.clock.now(), output });
  }

  async purge(instanceId: string): Promise<void> {
    const inst = this.instances.get(instanceId);
    if (inst && !TERMINAL_STATUSES.includes(inst.record.status)) {
      throw new WorkflowApiError(
        'ERR_PURGE_WORKFLOW',
        `error purging workflow with instance ID '${instanceId}': the instance is ${inst.record.status}; only COMPLETED, FAILED or TERMINATED instances can be purged (terminate it first)`,
      );
    }
    const record = await this.store.record(instanceId);
    if (!record) throw new WorkflowApiError('ERR_INSTANCE_ID_NOT_FOUND', `unable to find workflow with instance ID '${instanceId}'`);
    const children = (await this.store.history(record)).flatMap((e) => (e.type === 'SubOrchestrationCreated' ? [e.instanceId] : []));
    for (const child of children) {
      const found = this.instances.has(child) ? undefined : await this.store.record(child);
      if (found && TERMINAL_STATUSES.includes(found.status)) await this.purge(child); // recursive, as daprd
    }
    await this.store.purge(record);
  }

  private async control(instanceId: string, code: string, doing: string, event: HistoryEvent): Promise<void> {
    const inst = this.instances.get(instanceId);
    if (!inst) {
      const known = await this.store.record(instanceId);
      throw new WorkflowApiError(
        code,
        known
          ? `error ${doing} workflow with instance ID '${instanceId}': the instance is ${known.status}`
          : `error ${doing} workflow with instance ID '${instanceId}': no such instance exists`,
      );
    }
    if (inst.notBefore !== undefined) throw notStartedYet(code, doing, inst.record);
    await new Promise<void>((resolve, reject) => this.enqueue(inst, { event, recorded: { resolve, reject } }));
  }

  private add(record: InstanceRecord, history: HistoryEvent[] | undefined): Instance {
    const inst: Instance = { record, history, inbox: [], busy: false, generation: 0, timers: new Set(), children: new Set(), done: [], started: [] };
    this.instances.set(record.instanceId, inst);
    return inst;
  }

  private enqueue(inst: Instance, item: InboxItem | undefined): void {
    if (item) inst.inbox.push(item);
    if (inst.busy || this.stopped || inst.notBefore !== undefined) return;
    inst.busy = true;
    const driving = this.drive(inst, item === undefined);
    this.driving.add(driving);
    driving
      .catch((err: unknown) => this.logger.error({ instanceId: inst.record.instanceId, err: String(err) }, 'workflow driver failed'))
      .finally(() => this.driving.delete(driving))
      .catch(() => undefined);
  }

  /** Steps the instance until its inbox is empty. */
  private async drive(inst: Instance, force: boolean): Promise<void> {
    try {
      let first = force;
      while ((inst.inbox.length > 0 || first || inst.fresh) && !this.stopped) {
        first = false;
        const items = inst.inbox.splice(0);
        try {
          await this.step(inst, items);
          for (const i of items) i.recorded?.resolve();
        } catch (err) {
          await this.recover(inst, items, err);
        }
      }
    } finally {
      inst.busy = false;
    }
  }

  private async step(inst: Instance, all: readonly InboxItem[]): Promise<void> {
    if (TERMINAL_STATUSES.includes(inst.record.status)) return; // late results of an ended instance
    const items = all.filter((i) => i.generation === undefined || i.generation === inst.generation);
    const now = this.clock.now();
    const incoming: HistoryEvent[] = [{ type: 'OrchestratorStarted', at: now }, ...items.map((i) => i.event)];
    const runner = inst.runner ?? this.newRunner(inst);
    const replayed = inst.history ? await runner.replay(inst.history) : { actions: [] };
    const fresh = inst.fresh ?? [];
    inst.history = undefined;
    inst.fresh = undefined;
    inst.runner = runner;
    const fed = replayed.completed ? replayed : await runner.process([...fresh, ...incoming]);
    let actions = [...replayed.actions, ...(replayed.completed ? [] : fed.actions)];
    let end = fed.completed;
    if (end?.status === 'CONTINUED_AS_NEW') {
      await this.continueAsNew(inst, jsonCopy(end.output), now);
      return;
    }
    const custom = runner.status;
    try {
      JSON.stringify([actions, end, custom.value]); // what is recorded must be JSON, or the step could never be written
    } catch (err) {
      actions = [];
      end = {
        type: 'ExecutionCompleted',
        at: now,
        status: 'FAILED',
        failure: failureOf(new TypeError(`the workflow produced a value that is not JSON: ${(err as Error).message}`)),
      };
    }
    const chunk = [...incoming, ...actions, ...(end ? [end] : [])];
    const record: InstanceRecord = {
      ...inst.record,
      status: end ? end.status : runner.isSuspended ? 'SUSPENDED' : 'RUNNING',
      customStatus: custom.set ? jsonOr(custom.value, inst.record.customStatus) : inst.record.customStatus,
      output: jsonCopy(end?.output),
      failure: end?.failure,
      lastUpdatedAt: now,
      chunks: inst.record.chunks + 1,
    };
    await this.store.write({ record, chunk, active: !end });
    inst.record = record;
    for (const resolve of inst.started.splice(0)) resolve();
    if (end) {
      this.finish(inst);
      return;
    }
    for (const action of actions) this.dispatch(inst, action);
  }

  /**
   * A step that could not be recorded (the store failed): the code's state is rebuilt from the
   * recorded history, callers waiting on the step's events get the error, and the results of
   * activities and timers are fed again after a second.
   */
  private async recover(inst: Instance, items: readonly InboxItem[], err: unknown): Promise<void> {
    this.logger.error(
      { instanceId: inst.record.instanceId, err: String(err) },
      'workflow step could not be recorded; retrying in 1 s from the recorded history',
    );
    for (const i of items) i.recorded?.reject(err);
    if (this.stopped) return; // shutting down: the next start replays from the store
    inst.runner = undefined;
    inst.fresh = undefined;
    try {
      const record = await this.store.record(inst.record.instanceId);
      if (record) inst.record = record;
      inst.history = await this.store.history(inst.record);
    } catch (reloadErr) {
      inst.history = undefined;
      this.logger.error(
        { instanceId: inst.record.instanceId, err: String(reloadErr) },
        'workflow history could not be read; the instance resumes at the next restart',
      );
      this.instances.delete(inst.record.instanceId);
      return;
    }
    const retry = items.filter((i) => !i.recorded);
    const timer = setTimeout(() => {
      if (this.instances.get(inst.record.instanceId) !== inst) return;
      inst.inbox.unshift(...retry);
      this.enqueue(inst, undefined);
    }, 1000);
    timer.unref();
  }

  /** Starts the instance again with `input` and a history of its start only (same id). */
  private async continueAsNew(inst: Instance, input: unknown, now: number): Promise<void> {
    const first: HistoryEvent[] = [
      { type: 'OrchestratorStarted', at: now },
      { type: 'ExecutionStarted', at: now, name: inst.record.name, input },
    ];
    const record: InstanceRecord = {
      instanceId: inst.record.instanceId,
      name: inst.record.name,
      status: 'RUNNING',
      input,
      createdAt: inst.record.createdAt,
      lastUpdatedAt: now,
      chunks: 1,
    };
    await this.store.restart(inst.record, record, first);
    for (const t of inst.timers) this.clock.clearTimeout(t);
    inst.timers.clear();
    inst.generation++;
    inst.runner = undefined;
    inst.record = record;
    inst.fresh = first;
  }

  private newRunner(inst: Instance): WorkflowRunner {
    const name = inst.record.name;
    const fn = this.workflows.get(name) ?? missingWorkflow(name);
    return new WorkflowRunner(inst.record.instanceId, name, fn, this.logger.child({ workflow: name, instanceId: inst.record.instanceId }));
  }

  private finish(inst: Instance): void {
    for (const t of inst.timers) this.clock.clearTimeout(t);
    inst.timers.clear();
    inst.runner = undefined;
    this.instances.delete(inst.record.instanceId);
    for (const resolve of inst.done.splice(0)) resolve();
    for (const resolve of inst.started.splice(0)) resolve();
    const parent = inst.record.parent && this.instances.get(inst.record.parent.instanceId);
    if (parent && inst.record.parent) this.enqueue(parent, { event: childResult(inst.record, inst.record.parent.taskId, this.clock.now()) });
    if (inst.record.status === 'TERMINATED') {
      for (const child of inst.children) {
        if (this.instances.has(child)) {
          this.terminate(child).catch((err: unknown) => this.logger.warn({ instanceId: child, err: String(err) }, 'could not terminate a child workflow'));
        }
      }
    }
  }

  /** Starts a child workflow, or (after a restart) finds it and takes its result if it has ended. */
  private async startChild(inst: Instance, action: Extract<HistoryEvent, { type: 'SubOrchestrationCreated' }>, generation: number): Promise<void> {
    inst.children.add(action.instanceId);
    let result: HistoryEvent | undefined;
    try {
      const existing = this.instances.get(action.instanceId)?.record ?? (await this.store.record(action.instanceId));
      if (!existing) await this.start(action.name, action.instanceId, action.input, { instanceId: inst.record.instanceId, taskId: action.id });
      else if (TERMINAL_STATUSES.includes(existing.status)) result = childResult(existing, action.id, this.clock.now());
    } catch (err) {
      result = { type: 'SubOrchestrationFailed', at: this.clock.now(), taskId: action.id, failure: failureOf(err) };
    }
    if (result && this.instances.get(inst.record.instanceId) === inst && inst.generation === generation) this.enqueue(inst, { event: result, generation });
  }

  /** After a restart: the activities without a result run again, the timers not fired are set again. */
  private redispatch(inst: Instance, history: readonly HistoryEvent[]): void {
    const done = new Set<number>();
    for (const e of history) if ('taskId' in e) done.add(e.taskId);
    for (const e of history) {
      if ((e.type === 'TaskScheduled' || e.type === 'TimerCreated' || e.type === 'SubOrchestrationCreated') && !done.has(e.id)) this.dispatch(inst, e);
    }
  }

  private dispatch(inst: Instance, action: HistoryEvent): void {
    const generation = inst.generation;
    if (action.type === 'TimerCreated') {
      // Node's timers hold at most ~24.8 days: longer ones are set again when that much has passed.
      const arm = (): void => {
        const left = action.fireAt - this.clock.now();
        const handle = this.clock.setTimeout(
          () => {
            inst.timers.delete(handle);
            if (action.fireAt - this.clock.now() > 0 && left > MAX_TIMER_MS) arm();
            else this.enqueue(inst, { event: { type: 'TimerFired', at: this.clock.now(), taskId: action.id }, generation });
          },
          Math.min(MAX_TIMER_MS, Math.max(0, left)),
        );
        inst.timers.add(handle);
      };
      arm();
    } else if (action.type === 'TaskScheduled') {
      void this.runActivity(inst, action, generation);
    } else if (action.type === 'SubOrchestrationCreated') {
      void this.startChild(inst, action, generation);
    }
  }

  private async runActivity(inst: Instance, action: Extract<HistoryEvent, { type: 'TaskScheduled' }>, generation: number): Promise<void> {
    const id = inst.record.instanceId;
    const fn = this.activities.get(action.name);
    let event: HistoryEvent;
    try {
      if (!fn) throw new ActivityNotRegisteredError(action.name, [...this.activities.keys()]);
      const ctx: ActivityContext = { workflowInstanceId: id, activityName: action.name, taskId: action.id, idempotencyKey: `${id}:${action.id}` };
      // Input and result as JSON, live as after a restart (the history holds JSON): a Date is a string in both.
      const result = jsonCopy(
        await fn(ctx, jsonCopy(action.input)),
        (reason) => new TypeError(`the result of activity "${action.name}" is not JSON: ${reason}`),
      );
      event = { type: 'TaskCompleted', at: this.clock.now(), taskId: action.id, result };
    } catch (err) {
      event = { type: 'TaskFailed', at: this.clock.now(), taskId: action.id, failure: failureOf(err) };
    }
    if (this.instances.get(id) === inst && inst.generation === generation) this.enqueue(inst, { event, generation });
  }
}
