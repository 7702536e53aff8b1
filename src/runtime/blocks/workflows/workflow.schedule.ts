import { WorkflowApiError } from '../../../errors/workflow.errors';
import type { Clock, TimerHandle } from '../../../spi/clock';
import { jsonCopy } from './workflow.values';
import type { Instance } from './workflow.instance';
import type { InstanceWrite } from './workflow.store';
import type { HistoryEvent, InstanceRecord } from './workflow.types';

/** Node's timers hold at most ~24.8 days: a later start is armed again when that much has passed. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The start time of `schedule(..., { startAt })` as epoch ms (undefined when none is given); anything
 * that is not a valid time is `ERR_START_WORKFLOW`. The engine starts at once when it is not in the
 * future by its clock (a start time in the past starts now, as Durable Task does).
 */
export function startTimeOf(name: string, startAt: unknown): number | undefined {
  if (startAt === undefined || startAt === null) return undefined;
  const ms = startAt instanceof Date ? startAt.getTime() : typeof startAt === 'number' ? startAt : typeof startAt === 'string' ? Date.parse(startAt) : NaN;
  if (!Number.isFinite(ms)) {
    const shown =
      startAt instanceof Date
        ? 'Invalid Date'
        : typeof startAt === 'string'
          ? JSON.stringify(startAt)
          : typeof startAt === 'number'
            ? String(startAt)
            : typeof startAt;
    throw new WorkflowApiError(
      'ERR_START_WORKFLOW',
      `error starting workflow '${name}': startAt ${shown} is not a valid time (give a Date, epoch milliseconds or an RFC 3339 string)`,
    );
  }
  return ms;
}

/** Calls `fire` at `at` on `clock` (in steps for times beyond Node's timer range); the live handle is kept in `timers`. */
export function armAt(clock: Clock, at: number, timers: Set<TimerHandle>, fire: () => void): void {
  const arm = (): void => {
    const left = at - clock.now();
    const handle = clock.setTimeout(
      () => {
        timers.delete(handle);
        if (at - clock.now() > 0 && left > MAX_TIMER_MS) arm();
        else fire();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, left)),
    );
    timers.add(handle);
  };
  arm();
}

/**
 * A new instance's record and first history chunk; with `startAt` in the future it is held PENDING
 * until then, and its code first runs at that time and sees it (live and in replay).
 */
export function startRecord(
  start: Pick<InstanceRecord, 'instanceId' | 'name' | 'input' | 'parent' | 'owner'>,
  now: number,
  startAt: number | undefined,
): { record: InstanceRecord; first: HistoryEvent[] } {
  const scheduled = startAt !== undefined && startAt > now ? { scheduledStartAt: startAt } : {};
  const first: HistoryEvent[] = [
    { type: 'OrchestratorStarted', at: scheduled.scheduledStartAt ?? now },
    { type: 'ExecutionStarted', at: now, name: start.name, input: start.input },
  ];
  return { record: { ...start, status: 'PENDING', createdAt: now, lastUpdatedAt: now, chunks: 1, ...scheduled }, first };
}

/** Whether a stored record is a scheduled instance whose start time has not come yet. */
export function waitingToStart(record: InstanceRecord, now: number): boolean {
  return record.status === 'PENDING' && record.scheduledStartAt !== undefined && record.scheduledStartAt > now;
}

/**
 * What terminating a scheduled instance before its start records: the instance ends TERMINATED and its
 * code never runs (no `OrchestratorStarted` step of the workflow is fed).
 */
export function terminatedBeforeStart(record: InstanceRecord, output: unknown, now: number): { record: InstanceRecord; chunk: HistoryEvent[] } {
  const value = jsonCopy(
    output,
    (reason) =>
      new WorkflowApiError('ERR_TERMINATE_WORKFLOW', `error terminating workflow with instance ID '${record.instanceId}': the output is not JSON: ${reason}`),
  );
  const chunk: HistoryEvent[] = [
    { type: 'ExecutionTerminated', at: now, output: value },
    { type: 'ExecutionCompleted', at: now, status: 'TERMINATED', output: value },
  ];
  return { record: { ...record, status: 'TERMINATED', output: value, lastUpdatedAt: now, chunks: record.chunks + 1 }, chunk };
}

/** Why raise/pause/resume are refused on an instance waiting for its start time. */
export function notStartedYet(code: string, doing: string, record: InstanceRecord): WorkflowApiError {
  const at = record.scheduledStartAt === undefined ? 'later' : `at ${new Date(record.scheduledStartAt).toISOString()}`;
  return new WorkflowApiError(
    code,
    `error ${doing} workflow with instance ID '${record.instanceId}': the instance is PENDING, scheduled to start ${at}; try again once it has started (or terminate it)`,
  );
}

/**
 * Holds a scheduled instance until `at` (its code does not run before: the engine does not step an
 * instance with `notBefore`), then calls `run` (its first step). Used at start, and when a process
 * resumes or adopts a PENDING instance whose start time has not come.
 */
export function holdUntilStart(clock: Clock, inst: Instance, at: number, run: () => void): void {
  inst.notBefore = at;
  armAt(clock, at, inst.timers, () => {
    inst.notBefore = undefined;
    run();
  });
}

/**
 * Ends a scheduled instance before its start time (TERMINATED, its code never ran) with one write; if
 * the write fails the instance is held again until its start time (then the error is thrown).
 */
export async function endBeforeStart(
  clock: Clock,
  inst: Instance,
  output: unknown,
  write: (w: InstanceWrite) => Promise<void>,
  run: () => void,
): Promise<void> {
  const { record, chunk } = terminatedBeforeStart(inst.record, output, clock.now());
  for (const t of inst.timers) clock.clearTimeout(t);
  inst.timers.clear();
  try {
    await write({ record, chunk, active: false });
  } catch (err) {
    holdUntilStart(clock, inst, inst.notBefore ?? clock.now(), run);
    throw err;
  }
  inst.record = record;
  inst.notBefore = undefined;
}
