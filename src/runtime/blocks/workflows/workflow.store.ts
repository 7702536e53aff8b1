import type { StateService } from '../state/state.service';
import type { StateOperation } from '../state/state.types';
import { ETagMismatchError } from '../../../errors/state.errors';
import { type IndexMove, WorkflowStatusIndex } from './workflow.index';
import { listInstances, type WorkflowPage, type WorkflowQuery } from './workflow.query';
import type { HistoryEvent, InstanceRecord } from './workflow.types';

/** One instance's part of a commit. */
export interface InstanceWrite {
  readonly record: InstanceRecord;
  /** A new history chunk (stored as chunk `record.chunks - 1`), when the step added events. */
  readonly chunk?: readonly HistoryEvent[];
  /** Whether the instance is still active (kept in the index of instances to resume at start). */
  readonly active: boolean;
}

interface Queued {
  readonly ops: StateOperation[];
  /** The instance's change in the status index, if any. */
  readonly move?: IndexMove;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

const INDEX_KEY = 'wf-index';
/** Commits retried when a status-index shard changed under the batch (another process wrote it). */
const INDEX_ATTEMPTS = 10;
const metaKey = (id: string): string => `wf-meta:${id}`;
const chunkKey = (id: string, n: number): string => `wf-h:${id}:${n}`;

/**
 * Workflow state in a state store, through the state block's service (so `keyPrefix` applies):
 * `wf-meta:<id>` (the instance record), `wf-h:<id>:<n>` (history, appended in chunks: one per step),
 * `wf-index` (the ids of active instances, to resume at start). Writes are group-committed: the
 * writes queued while one transaction runs go together in the next, with one copy of the index.
 * `wf-ix:<STATUS>:<n>` is the status index (workflow.index.ts), written in the same transactions.
 */
export class WorkflowStore {
  private readonly active = new Set<string>();
  private queue: Queued[] = [];
  private writing = false;
  private indexDirty = false;
  private readonly statusIndex: WorkflowStatusIndex;

  constructor(
    private readonly state: StateService,
    /** The store's name, picked at first use (so an app without workflows needs no state store). */
    private readonly store: () => string,
  ) {
    this.statusIndex = new WorkflowStatusIndex(state, store);
  }

  /** A page of instances by status, name and creation time, from the status index (workflow.query.ts). */
  list(query: WorkflowQuery): Promise<WorkflowPage> {
    return listInstances(this.state, this.storeName, query);
  }

  get storeName(): string {
    return this.store();
  }

  /** Active instance ids as last committed. */
  async activeIds(): Promise<string[]> {
    const found = await this.state.get(this.storeName, INDEX_KEY);
    const ids = found ? (JSON.parse(found.data.toString('utf8')) as string[]) : [];
    for (const id of ids) this.active.add(id);
    return ids;
  }

  async record(id: string): Promise<InstanceRecord | undefined> {
    const found = await this.state.get(this.storeName, metaKey(id));
    return found && (JSON.parse(found.data.toString('utf8')) as InstanceRecord);
  }

  async history(record: InstanceRecord): Promise<HistoryEvent[]> {
    const keys = Array.from({ length: record.chunks }, (_, n) => chunkKey(record.instanceId, n));
    const chunks = keys.length === 0 ? [] : await this.state.bulkGet(this.storeName, keys);
    return chunks.flatMap((c) => (c.data ? (JSON.parse(c.data.toString('utf8')) as HistoryEvent[]) : []));
  }

  /** Durably writes an instance's record and its new history chunk (group-committed). */
  write(w: InstanceWrite): Promise<void> {
    const ops: StateOperation[] = [{ operation: 'upsert', request: { key: metaKey(w.record.instanceId), value: JSON.stringify(w.record) } }];
    if (w.chunk) ops.push({ operation: 'upsert', request: { key: chunkKey(w.record.instanceId, w.record.chunks - 1), value: JSON.stringify(w.chunk) } });
    if (w.active !== this.active.has(w.record.instanceId)) {
      if (w.active) this.active.add(w.record.instanceId);
      else this.active.delete(w.record.instanceId);
      this.indexDirty = true;
    }
    const fresh = w.record.chunks === 1 && w.record.status === 'PENDING';
    return this.enqueue(ops, this.statusIndex.moveFor(w.record, fresh));
  }

  /** Replaces an instance's history by `chunk` (continue-as-new): `record.chunks` must be 1. */
  restart(previous: InstanceRecord, record: InstanceRecord, chunk: readonly HistoryEvent[]): Promise<void> {
    const ops: StateOperation[] = [];
    for (let n = 1; n < previous.chunks; n++) ops.push({ operation: 'delete', request: { key: chunkKey(record.instanceId, n) } });
    ops.push({ operation: 'upsert', request: { key: chunkKey(record.instanceId, 0), value: JSON.stringify(chunk) } });
    ops.push({ operation: 'upsert', request: { key: metaKey(record.instanceId), value: JSON.stringify(record) } });
    return this.enqueue(ops, this.statusIndex.moveFor(record, false));
  }

  /** Deletes an instance's record and history. */
  purge(record: InstanceRecord): Promise<void> {
    const ops: StateOperation[] = [{ operation: 'delete', request: { key: metaKey(record.instanceId) } }];
    for (let n = 0; n < record.chunks; n++) ops.push({ operation: 'delete', request: { key: chunkKey(record.instanceId, n) } });
    if (this.active.delete(record.instanceId)) this.indexDirty = true;
    return this.enqueue(ops, { id: record.instanceId });
  }

  private enqueue(ops: StateOperation[], move?: IndexMove): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, move, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const ops = batch.flatMap((q) => q.ops);
        if (this.indexDirty) {
          this.indexDirty = false;
          ops.push({ operation: 'upsert', request: { key: INDEX_KEY, value: JSON.stringify([...this.active]) } });
        }
        const moves = batch.flatMap((q) => (q.move ? [q.move] : []));
        try {
          await this.commit(ops, moves);
          for (const q of batch) q.resolve();
        } catch (err) {
          this.indexDirty = true;
          for (const q of batch) q.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** One transaction of `ops` and the status-index changes of `moves`, planned again if an index key changed meanwhile. */
  private async commit(ops: readonly StateOperation[], moves: readonly IndexMove[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const plan = moves.length === 0 ? undefined : await this.statusIndex.prepare(moves);
      try {
        await this.state.transact(this.storeName, plan ? [...ops, ...plan.ops] : ops);
        plan?.committed();
        return;
      } catch (err) {
        const conflict = err instanceof ETagMismatchError; // nothing was written
        if (conflict) plan?.refused();
        else plan?.uncertain();
        if (!conflict || !plan || attempt >= INDEX_ATTEMPTS) throw err;
        await new Promise<void>((resolve) => setTimeout(resolve, Math.random() * 5 * attempt)); // apart from the other writer
      }
    }
  }
}
