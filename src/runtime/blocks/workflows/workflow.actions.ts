import type { Clock } from '../../../spi/clock';
import type { Instance, InboxItem } from './workflow.instance';
import { ActivityNotRegisteredError, childResult, jsonCopy } from './workflow.values';
import { type ActivityContext, failureOf, type HistoryEvent, type InstanceRecord, TERMINAL_STATUSES } from './workflow.types';

export type ActivityFn = (ctx: ActivityContext, input: unknown) => unknown;

const MAX_TIMER_MS = 2_147_483_647;

/** Where the actions' results go, and how a child workflow starts. */
export interface ActionSink {
  /** Feeds a result to the instance if it is still the one this process drives (same execution). */
  deliver(inst: Instance, item: InboxItem): void;
  /** An instance's record (driven here or not), or undefined. */
  find(instanceId: string): Promise<InstanceRecord | undefined>;
  start(name: string, instanceId: string, input: unknown, parent: NonNullable<InstanceRecord['parent']>): Promise<string>;
  /** Hands the activity to another process; false: run it here. */
  offload?(inst: Instance, action: Extract<HistoryEvent, { type: 'TaskScheduled' }>, generation: number): boolean;
  /** Forgets the instance's activities handed to other processes (their late results are dropped). */
  forget?(inst: Instance): void;
}

/**
 * Carries out what a recorded step asked for: activities run here (in the process that drives the
 * instance) or, with `workflows.activities: 'shared'`, maybe on another (`sink.offload`), durable timers are set on the Clock, child workflows are started. Results come back as
 * events for the instance's next step.
 */
export class WorkflowActions {
  constructor(
    private readonly activities: ReadonlyMap<string, ActivityFn>,
    private readonly clock: Clock,
    private readonly sink: ActionSink,
  ) {}

  dispatch(inst: Instance, action: HistoryEvent): void {
    const generation = inst.generation;
    if (action.type === 'TimerCreated') {
      // Node's timers hold at most ~24.8 days: longer ones are set again when that much has passed.
      const arm = (): void => {
        const left = action.fireAt - this.clock.now();
        const handle = this.clock.setTimeout(
          () => {
            inst.timers.delete(handle);
            if (action.fireAt - this.clock.now() > 0 && left > MAX_TIMER_MS) arm();
            else this.sink.deliver(inst, { event: { type: 'TimerFired', at: this.clock.now(), taskId: action.id }, generation });
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

  /** Clears the instance's timers (it ended, continued as new, or moved to another process). */
  clear(inst: Instance): void {
    for (const t of inst.timers) this.clock.clearTimeout(t);
    inst.timers.clear();
    this.sink.forget?.(inst);
  }

  /** Starts a child workflow, or (after a restart) finds it and takes its result if it has ended. */
  private async startChild(inst: Instance, action: Extract<HistoryEvent, { type: 'SubOrchestrationCreated' }>, generation: number): Promise<void> {
    inst.children.add(action.instanceId);
    let result: HistoryEvent | undefined;
    try {
      const existing = await this.sink.find(action.instanceId);
      if (!existing) await this.sink.start(action.name, action.instanceId, action.input, { instanceId: inst.record.instanceId, taskId: action.id });
      else if (TERMINAL_STATUSES.includes(existing.status)) result = childResult(existing, action.id, this.clock.now());
    } catch (err) {
      result = { type: 'SubOrchestrationFailed', at: this.clock.now(), taskId: action.id, failure: failureOf(err) };
    }
    if (result) this.sink.deliver(inst, { event: result, generation });
  }

  private async runActivity(inst: Instance, action: Extract<HistoryEvent, { type: 'TaskScheduled' }>, generation: number): Promise<void> {
    if (this.sink.offload?.(inst, action, generation)) return; // runs on another process (workflow.activity-queue.ts)
    const event = await runActivity(this.activities, this.clock, inst.record.instanceId, action);
    this.sink.deliver(inst, { event, generation });
  }
}

/** Runs a scheduled activity here; its result (or failure) as the event to record. */
export async function runActivity(
  activities: ReadonlyMap<string, ActivityFn>,
  clock: Clock,
  instanceId: string,
  action: Extract<HistoryEvent, { type: 'TaskScheduled' }>,
): Promise<HistoryEvent> {
  const fn = activities.get(action.name);
  try {
    if (!fn) throw new ActivityNotRegisteredError(action.name, [...activities.keys()]);
    const ctx: ActivityContext = { workflowInstanceId: instanceId, activityName: action.name, taskId: action.id, idempotencyKey: `${instanceId}:${action.id}` };
    // Input and result as JSON, live as after a restart (the history holds JSON): a Date is a string in both.
    const result = jsonCopy(await fn(ctx, jsonCopy(action.input)), (reason) => new TypeError(`the result of activity "${action.name}" is not JSON: ${reason}`));
    return { type: 'TaskCompleted', at: clock.now(), taskId: action.id, result };
  } catch (err) {
    return { type: 'TaskFailed', at: clock.now(), taskId: action.id, failure: failureOf(err) };
  }
}
