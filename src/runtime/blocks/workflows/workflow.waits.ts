import { WorkflowApiError } from '../../../errors/workflow.errors';
import type { Instance } from './workflow.instance';
import type { WorkflowState, WorkflowStatus } from './workflow.types';

/** How often a process waiting on an instance another process drives reads its record. */
const POLL_MS = 100;

/** What waiting needs from the engine. */
export interface Waitable {
  /** The instance if this process drives it. */
  local(instanceId: string): Instance | undefined;
  get(instanceId: string): Promise<WorkflowState | undefined>;
  stopped(): boolean;
}

/**
 * Resolves once the instance's status is `reached`: waits on it when this process drives it (woken by
 * `waiters`), else reads its record every 100 ms (another process drives it, or adopts it meanwhile),
 * for at most `timeoutMs`; then resolves with the state as it is.
 */
export async function waitForState(
  engine: Waitable,
  instanceId: string,
  reached: (status: WorkflowStatus) => boolean,
  waiters: (inst: Instance) => (() => void)[],
  timeoutMs: number,
): Promise<WorkflowState> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const inst = engine.local(instanceId);
    if (inst && !reached(inst.record.status)) {
      await new Promise<void>((resolve) => waiters(inst).push(resolve));
      continue;
    }
    const state = await engine.get(instanceId);
    if (!state) throw new WorkflowApiError('ERR_INSTANCE_ID_NOT_FOUND', `unable to find workflow with instance ID '${instanceId}'`);
    if (inst || reached(state.status) || engine.stopped() || Date.now() > until) return state;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
