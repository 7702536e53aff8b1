import type { TimerHandle } from '../../../spi/clock';
import type { WorkflowRunner } from './workflow.runner';
import type { HistoryEvent, InstanceRecord } from './workflow.types';

/** An event for an instance's next step. */
export interface InboxItem {
  readonly event: HistoryEvent;
  /** Resolved once the event is recorded (raise, suspend, resume, terminate wait for it). */
  readonly recorded?: { resolve: () => void; reject: (err: unknown) => void };
  /** For results of activities and timers: the execution they belong to (continue-as-new starts another). */
  readonly generation?: number;
}

/** An instance this process drives (its history is in the store). */
export interface Instance {
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
  /** Ids of the inbox messages from other processes already recorded in the history (read twice after a crash: recorded once). */
  readonly messages: Set<string>;
  /** A scheduled instance before its start time (epoch ms): its code does not run yet (workflow.schedule.ts). */
  notBefore?: number;
}

export function newInstance(record: InstanceRecord, history: HistoryEvent[] | undefined): Instance {
  const messages = new Set<string>();
  for (const e of history ?? []) {
    const msg = messageIdOf(e);
    if (msg !== undefined) messages.add(msg);
  }
  return { record, history, inbox: [], busy: false, generation: 0, timers: new Set(), children: new Set(), done: [], started: [], messages };
}

/** The inbox message id an event recorded from another process carries. */
export function messageIdOf(event: HistoryEvent): string | undefined {
  const msg = (event as { readonly msg?: unknown }).msg;
  return typeof msg === 'string' ? msg : undefined;
}

/** `event` marked with the inbox message it came in (kept in the history, to record it once). */
export function withMessageId(event: HistoryEvent, id: string): HistoryEvent {
  const marked: HistoryEvent & { readonly msg: string } = Object.assign({}, event, { msg: id });
  return marked;
}

/** The actions of a history that have no result yet (to carry out again after a restart or an adoption). */
export function pendingActions(history: readonly HistoryEvent[]): HistoryEvent[] {
  const done = new Set<number>();
  for (const e of history) if ('taskId' in e) done.add(e.taskId);
  return history.filter((e) => (e.type === 'TaskScheduled' || e.type === 'TimerCreated' || e.type === 'SubOrchestrationCreated') && !done.has(e.id));
}

/**
 * The items a step records: not those of a previous execution (continue-as-new), and each message
 * from another process once (`seen`: the message ids of this step, to add to `inst.messages` once recorded).
 */
export function stepItems(inst: Instance, all: readonly InboxItem[]): { items: InboxItem[]; seen: string[] } {
  const seen: string[] = [];
  const items = all.filter((i) => {
    if (i.generation !== undefined && i.generation !== inst.generation) return false;
    const msg = messageIdOf(i.event);
    if (msg === undefined) return true;
    if (inst.messages.has(msg) || seen.includes(msg)) return false; // read twice (a crash before the inbox was updated): recorded once
    seen.push(msg);
    return true;
  });
  return { items, seen };
}
