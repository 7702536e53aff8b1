import type { SidekickLogger } from '../../../spi/logger';
import type { InboxItem, Instance } from './workflow.instance';
import type { WorkflowStore } from './workflow.store';

/** What recovering from a failed step needs from the engine. */
export interface Recovery {
  readonly store: WorkflowStore;
  readonly logger: SidekickLogger;
  stopped(): boolean;
  /** A write failed its fence check: another process adopted this one's instances. */
  lost(reason: string): void;
  /** Whether the engine still drives `inst` (not ended, dropped or replaced meanwhile). */
  drives(inst: Instance): boolean;
  drop(inst: Instance): void;
  /** Steps the instance again (its inbox holds the items to feed again). */
  retry(inst: Instance): void;
}

/**
 * A step that could not be recorded (the store failed): the code's state is rebuilt from the
 * recorded history, callers waiting on the step's events get the error, and the results of
 * activities and timers are fed again after a second. A fenced write is not retried.
 */
export async function recoverStep(engine: Recovery, inst: Instance, items: readonly InboxItem[], err: unknown): Promise<void> {
  const { store, logger } = engine;
  logger.error({ instanceId: inst.record.instanceId, err: String(err) }, 'workflow step could not be recorded; retrying in 1 s from the recorded history');
  for (const i of items) i.recorded?.reject(err);
  if (engine.stopped()) return; // shutting down: the next start replays from the store
  if ((err as { code?: unknown }).code === 'ERR_STATE_FENCING_TOKEN_STALE') {
    if (inst.record.owner === store.ownerId) engine.lost(String((err as Error).message)); // another process adopted this one's instances
    return;
  }
  inst.runner = undefined;
  inst.fresh = undefined;
  try {
    const record = await store.record(inst.record.instanceId);
    if (record) inst.record = record;
    inst.history = await store.history(inst.record);
  } catch (reloadErr) {
    inst.history = undefined;
    logger.error(
      { instanceId: inst.record.instanceId, err: String(reloadErr) },
      'workflow history could not be read; the instance resumes at the next restart',
    );
    engine.drop(inst);
    return;
  }
  const retry = items.filter((i) => !i.recorded);
  const timer = setTimeout(() => {
    if (!engine.drives(inst)) return;
    inst.inbox.unshift(...retry);
    engine.retry(inst);
  }, 1000);
  timer.unref();
}
