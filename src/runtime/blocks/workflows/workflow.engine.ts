import { randomUUID } from 'node:crypto';
import { WorkflowApiError } from '../../../errors/workflow.errors';
import type { Clock } from '../../../spi/clock';
import type { SidekickLogger } from '../../../spi/logger';
import { type ActivityFn, WorkflowActions } from './workflow.actions';
import type { ActivityQueue } from './workflow.activity-queue';
import { type InboxItem, type Instance, newInstance, pendingActions, stepItems } from './workflow.instance';
import type { WorkflowMailbox } from './workflow.mailbox';
import { WorkflowRunner } from './workflow.runner';
import type { WorkflowFn } from './workflow.context';
import { checkInstanceId, childResult, jsonCopy, jsonOr, missingWorkflow, notJsonEnd, notRegistered } from './workflow.values';
import { type Recovery, recoverStep } from './workflow.recover';
import { type Waitable, waitForState } from './workflow.waits';
import type { WorkflowStore } from './workflow.store';
import type { WorkflowPage, WorkflowQuery } from './workflow.query';
import { endBeforeStart, holdUntilStart, notStartedYet, startRecord, waitingToStart } from './workflow.schedule';
import { type HistoryEvent, type InstanceRecord, TERMINAL_STATUSES, type WorkflowState } from './workflow.types';

export type { ActivityFn } from './workflow.actions';

/**
 * Drives workflow instances in this process: one step at a time per instance (take the inbox, run the
 * code over it, record the new events and the record in one write, then carry out the actions:
 * activities and timers). Instances in memory are the ones this process drives (it started or adopted
 * them, see `workflow.ownership.ts`); their history is in the store. Events for an instance another
 * process drives go to that process's inbox (`workflow.mailbox.ts`).
 */
export class WorkflowEngine {
  private readonly instances = new Map<string, Instance>();
  private stopped = false;
  /** Steps being driven (awaited by `stop`). */
  private readonly driving = new Set<Promise<void>>();
  private readonly actions: WorkflowActions;
  private readonly recovery: Recovery;
  /** Set with `workflows.activities: 'shared'`: hands activities to other processes (workflow.activity-queue.ts). */
  remote?: Pick<ActivityQueue, 'offer' | 'forget'>;
  /** Called when a write failed its fence check (another process adopted this one's instances). */
  onLost: (reason: string) => void = () => undefined;

  constructor(
    private readonly store: WorkflowStore,
    private readonly workflows: ReadonlyMap<string, WorkflowFn>,
    activities: ReadonlyMap<string, ActivityFn>,
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
    private readonly mailbox?: WorkflowMailbox,
  ) {
    this.actions = new WorkflowActions(activities, clock, {
      deliver: (inst, item) => this.deliver(inst, item),
      find: async (id) => this.instances.get(id)?.record ?? (await this.store.record(id)),
      start: (name, id, input, parent) => this.start(name, id, input, parent),
      offload: (inst, action, generation) => this.remote?.offer(inst, action, generation) ?? false,
      forget: (inst) => this.remote?.forget(inst),
    });
    this.recovery = {
      store: this.store,
      logger: this.logger,
      stopped: () => this.stopped,
      lost: (reason) => this.onLost(reason),
      drives: (inst) => this.instances.get(inst.record.instanceId) === inst,
      drop: (inst) => this.instances.delete(inst.record.instanceId),
      retry: (inst) => this.enqueue(inst, undefined),
    };
  }

  private readonly waitable: Waitable = { local: (id) => this.instances.get(id), get: (id) => this.get(id), stopped: () => this.stopped };

  /** Instances driven here. */
  get size(): number {
    return this.instances.size;
  }

  /**
   * Resumes active instances recorded in the store (activities without results run again, timers are
   * set again), now driven by this process: `ids` are those of a process this one adopted.
   */
  async resume(ids: readonly string[] = []): Promise<number> {
    let resumed = 0;
    for (const id of ids) {
      if (this.instances.has(id)) continue;
      const found = await this.store.record(id);
      if (!found || TERMINAL_STATUSES.includes(found.status)) {
        this.store.forget(id);
        continue;
      }
      const record: InstanceRecord = { ...found, owner: this.store.ownerId };
      const history = await this.store.history(record);
      const inst = this.add(record, history);
      if (waitingToStart(record, this.clock.now())) this.holdUntilStart(inst, record.scheduledStartAt ?? 0);
      else {
        for (const action of pendingActions(history)) this.actions.dispatch(inst, action);
        this.enqueue(inst, undefined);
      }
      resumed++;
    }
    return resumed;
  }

  /** The instance if this process drives it. */
  local(instanceId: string): Instance | undefined {
    return this.instances.get(instanceId);
  }

  /** Feeds `event` to an instance driven here; resolves once it is recorded (before its start time: only a termination). */
  async record(inst: Instance, event: HistoryEvent): Promise<void> {
    if (inst.notBefore !== undefined) {
      if (event.type !== 'ExecutionTerminated') throw notStartedYet('ERR_RAISE_EVENT_WORKFLOW', 'recording an event on', inst.record);
      await endBeforeStart(
        this.clock,
        inst,
        event.output,
        (w) => this.store.write(w),
        () => this.enqueue(inst, undefined),
      );
      return this.finish(inst);
    }
    return new Promise<void>((resolve, reject) => this.enqueue(inst, { event, recorded: { resolve, reject } }));
  }

  /** Feeds an action's result to the instance if this process still drives it, in the same execution. */
  deliver(inst: Instance, item: InboxItem): void {
    if (this.instances.get(inst.record.instanceId) === inst && inst.generation === item.generation) this.enqueue(inst, item);
  }

  /** Lets go of every instance (another process adopted them): no more steps, timers or results here; waiters read the store. */
  dropAll(): void {
    const dropped = [...this.instances.values()];
    this.instances.clear();
    for (const inst of dropped) {
      this.actions.clear(inst);
      inst.generation++;
      inst.inbox.length = 0;
      for (const resolve of [...inst.done.splice(0), ...inst.started.splice(0)]) resolve();
    }
  }

  /** Stops taking events, clears the timers, and waits (up to `waitMs`) for the steps being recorded. */
  async stop(waitMs: number): Promise<void> {
    this.stopped = true;
    for (const inst of this.instances.values()) this.actions.clear(inst);
    if (this.driving.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.driving]), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  /** `startAt` (epoch ms, in the future): the instance stays PENDING until then (workflow.schedule.ts). */
  async start(name: string, instanceId: string | undefined, input: unknown, parent?: InstanceRecord['parent'], startAt?: number): Promise<string> {
    if (!this.workflows.has(name)) throw notRegistered(name, [...this.workflows.keys()]);
    const id = instanceId ?? randomUUID();
    if (!parent) checkInstanceId(id);
    input = jsonCopy(input, (reason) => new WorkflowApiError('ERR_START_WORKFLOW', `error starting workflow '${name}': the input is not JSON: ${reason}`));
    const existing = this.instances.get(id)?.record ?? (await this.store.record(id));
    if (existing && !TERMINAL_STATUSES.includes(existing.status)) {
      throw new WorkflowApiError('ERR_START_WORKFLOW', `error starting workflow '${name}': an active workflow with ID '${id}' already exists`);
    }
    if (existing) await this.store.purge(existing);
    const { record, first } = startRecord({ instanceId: id, name, input, parent, owner: this.store.ownerId }, this.clock.now(), startAt);
    await this.store.write({ record, chunk: first, active: true });
    const inst = this.add(record, undefined);
    inst.fresh = first;
    if (record.scheduledStartAt !== undefined) this.holdUntilStart(inst, record.scheduledStartAt);
    else this.enqueue(inst, undefined);
    return id;
  }

  /** Instances by status, name and creation time (the store's status index; workflow.query.ts). */
  list(query: WorkflowQuery): Promise<WorkflowPage> {
    return this.store.list(query);
  }

  /** Holds a scheduled instance until its start time (workflow.schedule.ts), then runs its first step. */
  private holdUntilStart(inst: Instance, at: number): void {
    holdUntilStart(this.clock, inst, at, () => this.enqueue(inst, undefined));
  }

  async get(instanceId: string): Promise<WorkflowState | undefined> {
    const record = this.instances.get(instanceId)?.record ?? (await this.store.record(instanceId));
    if (!record) return undefined;
    const { chunks: _chunks, parent: _parent, owner: _owner, ...state } = record;
    return state;
  }

  /** Resolves once the instance has left PENDING (its code ran a first step), or at once if it has. */
  waitForStart(instanceId: string, timeoutMs = 3_600_000): Promise<WorkflowState> {
    return waitForState(
      this.waitable,
      instanceId,
      (s) => s !== 'PENDING',
      (inst) => inst.started,
      timeoutMs,
    );
  }

  /** Resolves once the instance is COMPLETED, FAILED or TERMINATED (or at once if it is). */
  waitForCompletion(instanceId: string, timeoutMs = 3_600_000): Promise<WorkflowState> {
    return waitForState(
      this.waitable,
      instanceId,
      (s) => TERMINAL_STATUSES.includes(s),
      (inst) => inst.done,
      timeoutMs,
    );
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
      const known = await this.store.record(instanceId);
      if (!known) throw new WorkflowApiError('ERR_INSTANCE_ID_NOT_FOUND', `unable to find workflow with instance ID '${instanceId}'`);
      if (TERMINAL_STATUSES.includes(known.status)) return; // already ended: nothing to do (as daprd)
    }
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
      const held = known && event.type !== 'ExecutionTerminated' && waitingToStart(known, this.clock.now());
      if (held) throw notStartedYet(code, doing, known);
      if (this.mailbox && (await this.mailbox.sendToInstance(instanceId, event, known))) return; // recorded by the process driving it
      throw new WorkflowApiError(
        code,
        known
          ? `error ${doing} workflow with instance ID '${instanceId}': the instance is ${known.status}`
          : `error ${doing} workflow with instance ID '${instanceId}': no such instance exists`,
      );
    }
    if (inst.notBefore !== undefined && event.type !== 'ExecutionTerminated') throw notStartedYet(code, doing, inst.record);
    await this.record(inst, event);
  }

  private add(record: InstanceRecord, history: HistoryEvent[] | undefined): Instance {
    const inst = newInstance(record, history);
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
          await recoverStep(this.recovery, inst, items, err);
        }
      }
    } finally {
      inst.busy = false;
    }
  }

  private async step(inst: Instance, all: readonly InboxItem[]): Promise<void> {
    if (TERMINAL_STATUSES.includes(inst.record.status)) return; // late results of an ended instance
    const { items, seen } = stepItems(inst, all);
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
    const notJson = notJsonEnd([actions, end, custom.value], now); // what is recorded must be JSON, or the step could never be written
    if (notJson) [actions, end] = [[], notJson];
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
    for (const msg of seen) inst.messages.add(msg);
    for (const resolve of inst.started.splice(0)) resolve();
    if (end) {
      this.finish(inst);
      return;
    }
    for (const action of actions) this.actions.dispatch(inst, action);
  }

  /** Starts the instance again with `input` and a history of its start only (same id). */
  private async continueAsNew(inst: Instance, input: unknown, now: number): Promise<void> {
    const first: HistoryEvent[] = [
      { type: 'OrchestratorStarted', at: now },
      { type: 'ExecutionStarted', at: now, name: inst.record.name, input },
    ];
    const { instanceId, name, createdAt, owner } = inst.record;
    const record: InstanceRecord = { instanceId, name, status: 'RUNNING', input, createdAt, lastUpdatedAt: now, chunks: 1, owner };
    await this.store.restart(inst.record, record, first);
    this.actions.clear(inst);
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
    this.actions.clear(inst);
    inst.runner = undefined;
    this.instances.delete(inst.record.instanceId);
    for (const resolve of inst.done.splice(0)) resolve();
    for (const resolve of inst.started.splice(0)) resolve();
    const ref = inst.record.parent;
    if (ref) {
      const event = childResult(inst.record, ref.taskId, this.clock.now());
      const parent = this.instances.get(ref.instanceId);
      if (parent) this.enqueue(parent, { event });
      else
        this.mailbox
          ?.sendToInstance(ref.instanceId, event)
          .catch((err: unknown) => this.warn(ref.instanceId, err, 'could not send a child workflow result to its parent'));
    }
    if (inst.record.status === 'TERMINATED') {
      for (const child of inst.children) {
        this.terminate(child).catch((err: unknown) => this.warn(child, err, 'could not terminate a child workflow'));
      }
    }
  }

  private warn(instanceId: string, err: unknown, msg: string): void {
    this.logger.warn({ instanceId, err: String(err) }, msg);
  }
}
