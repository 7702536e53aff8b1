import { setImmediate as nextTurn } from 'node:timers/promises';
import { SidekickError } from '../../../errors/sidekick.error';
import type { StateService } from '../state/state.service';
import type { StateOperation } from '../state/state.types';
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
  /** The member the write is for (refused once this process joined again under another id). */
  readonly owner: string;
  /** An adoption, written alone in its own transaction: the ids it adds to this process's index. */
  readonly adopted?: readonly string[];
  /** The instance's change in the status index, if any. */
  readonly move?: IndexMove;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

const indexKey = (member: string): string => `wf-index:${member}`;
const fenceKey = (member: string): string => `wf-fenced:${member}`;
/** Commits retried when a status-index page or directory changed under the batch (another process wrote it). */
const INDEX_ATTEMPTS = 10;
const metaKey = (id: string): string => `wf-meta:${id}`;
const chunkKey = (id: string, n: number): string => `wf-h:${id}:${n}`;

/**
 * Workflow state in a state store, through the state block's service (so `keyPrefix` applies):
 * `wf-meta:<id>` (the instance record), `wf-h:<id>:<n>` (history, appended in chunks: one per step),
 * `wf-index:<member>` (the ids of the active instances a process drives, for another to adopt).
 * Writes are group-committed: the writes queued while one transaction runs go together in the next,
 * with one copy of the index. `wf-ix:<STATUS>...` is the status index for listing (workflow.index.ts),
 * written in the same (fenced) transactions.
 *
 * Fencing: a process joins under a new member id each time (its epoch), and every transaction it
 * writes asserts that the tombstone `wf-fenced:<member>` does not exist (it creates the key with
 * first-write concurrency and deletes it again, in the same transaction: no read, no extra round
 * trip). A process that adopts another writes that tombstone first (first-write, which also marks it
 * on Redis), so from then on every transaction of the adopted one fails, whatever it believes:
 * `ERR_STATE_FENCING_TOKEN_STALE`.
 */
export class WorkflowStore {
  private readonly active = new Set<string>();
  private queue: Queued[] = [];
  private writing = false;
  private indexDirty = false;
  private owner = { id: '' };
  /** The last transaction completed without the event loop turning (no I/O wait). */
  private synchronous = false;
  private statusIndex: WorkflowStatusIndex;

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

  /** The member (process) whose writes this store makes now. */
  get ownerId(): string {
    return this.owner.id;
  }

  /** The member whose writes follow; its index starts empty. */
  setOwner(id: string): void {
    this.owner = { id };
    this.active.clear();
    this.indexDirty = false;
    // a former member's pages may have been changed by its adopter: this member opens pages of its own
    this.statusIndex = new WorkflowStatusIndex(this.state, this.store);
  }

  /** The active instance ids of `member` as last committed. */
  async activeIds(member: string = this.owner.id): Promise<string[]> {
    const found = await this.state.get(this.storeName, indexKey(member));
    return found ? (JSON.parse(found.data.toString('utf8')) as string[]) : [];
  }

  /** Writes `member`'s tombstone: from now on none of its transactions can commit (already fenced: nothing to do). */
  async fenceOut(member: string): Promise<void> {
    try {
      await this.state.save(this.storeName, [{ key: fenceKey(member), value: JSON.stringify({ by: this.owner.id }), options: { concurrency: 'first-write' } }]);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_ETAG_MISMATCH') throw err;
    }
  }

  /**
   * Takes `ids` (the active instances of `dead`, fenced out before they were read) into this process's
   * index, deletes `dead`'s index and applies `ops` (moving its inbox), in one transaction.
   */
  adopt(dead: string, ids: readonly string[], ops: readonly StateOperation[]): Promise<void> {
    return this.enqueue([{ operation: 'delete', request: { key: indexKey(dead) } }, ...ops], this.owner.id, undefined, ids);
  }

  /** Drops `id` from the index (an adopted instance found ended). */
  forget(id: string): void {
    if (this.active.delete(id)) this.indexDirty = true;
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
    if (w.record.owner !== this.owner.id) return Promise.reject(lostError(w.record.instanceId));
    if (w.active !== this.active.has(w.record.instanceId)) {
      if (w.active) this.active.add(w.record.instanceId);
      else this.active.delete(w.record.instanceId);
      this.indexDirty = true;
    }
    const fresh = w.record.chunks === 1 && w.record.status === 'PENDING';
    return this.enqueue(ops, w.record.owner, this.statusIndex.moveFor(w.record, fresh));
  }

  /** Replaces an instance's history by `chunk` (continue-as-new): `record.chunks` must be 1. */
  restart(previous: InstanceRecord, record: InstanceRecord, chunk: readonly HistoryEvent[]): Promise<void> {
    if (record.owner !== this.owner.id) return Promise.reject(lostError(record.instanceId));
    const ops: StateOperation[] = [];
    for (let n = 1; n < previous.chunks; n++) ops.push({ operation: 'delete', request: { key: chunkKey(record.instanceId, n) } });
    ops.push({ operation: 'upsert', request: { key: chunkKey(record.instanceId, 0), value: JSON.stringify(chunk) } });
    ops.push({ operation: 'upsert', request: { key: metaKey(record.instanceId), value: JSON.stringify(record) } });
    return this.enqueue(ops, record.owner ?? '', this.statusIndex.moveFor(record, false));
  }

  /** Deletes an instance's record and history. */
  purge(record: InstanceRecord): Promise<void> {
    const ops: StateOperation[] = [{ operation: 'delete', request: { key: metaKey(record.instanceId) } }];
    for (let n = 0; n < record.chunks; n++) ops.push({ operation: 'delete', request: { key: chunkKey(record.instanceId, n) } });
    if (this.active.delete(record.instanceId)) this.indexDirty = true;
    return this.enqueue(ops, this.owner.id, { id: record.instanceId });
  }

  /** The assertion that this process is not fenced out (see the class comment). */
  private fence(): StateOperation[] {
    const key = fenceKey(this.owner.id);
    return [
      { operation: 'upsert', request: { key, value: '1', options: { concurrency: 'first-write' } } },
      { operation: 'delete', request: { key } },
    ];
  }

  private enqueue(ops: StateOperation[], owner: string, move?: IndexMove, adopted?: readonly string[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, owner, move, adopted, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        // A store that answers without I/O (SQLite) groups nothing by itself: let the writes ready in
        // this turn of the event loop queue up first (each transaction also carries the fence check).
        if (this.synchronous) await nextTurn();
        const batch = this.take();
        if (batch.length === 0) continue;
        const ops = batch.flatMap((q) => q.ops);
        const adopted = batch[0]?.adopted ?? [];
        if (this.indexDirty || adopted.length > 0) {
          this.indexDirty = false;
          const ids = adopted.length > 0 ? [...new Set([...this.active, ...adopted])] : [...this.active];
          ops.push({ operation: 'upsert', request: { key: indexKey(this.owner.id), value: JSON.stringify(ids) } });
        }
        ops.push(...this.fence());
        const moves = batch.flatMap((q) => (q.move ? [q.move] : []));
        try {
          await this.commit(ops, moves);
          for (const id of adopted) this.active.add(id);
          for (const q of batch) q.resolve();
        } catch (err) {
          this.indexDirty = true;
          const fenced = this.isFence(err, adopted.length > 0);
          for (const q of batch) q.reject(fenced ? lostError(undefined) : err);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /**
   * One transaction of `ops` and the status-index changes of `moves`, planned again (up to
   * INDEX_ATTEMPTS) when an index key changed meanwhile; a refused fence is not retried.
   */
  private async commit(ops: readonly StateOperation[], moves: readonly IndexMove[]): Promise<void> {
    const index = this.statusIndex;
    for (let attempt = 1; ; attempt++) {
      const plan = moves.length === 0 ? undefined : await index.prepare(moves);
      try {
        let turned = false;
        const probe = setImmediate(() => (turned = true));
        await this.state.transact(this.storeName, plan ? [...ops, ...plan.ops] : ops);
        clearImmediate(probe);
        this.synchronous = !turned;
        plan?.committed();
        return;
      } catch (err) {
        const conflict = (err as { code?: unknown }).code === 'ERR_ETAG_MISMATCH'; // nothing was written
        if (conflict) plan?.refused();
        else plan?.uncertain();
        if (!conflict || !plan || attempt >= INDEX_ATTEMPTS || this.isFence(err, false) || index !== this.statusIndex) throw err;
        await new Promise<void>((resolve) => setTimeout(resolve, Math.random() * 5 * attempt)); // apart from the other writer
      }
    }
  }

  /**
   * Whether a refused transaction was refused by this process's fence. Workflow writes carry ETags
   * only on status-index keys (and, in an adoption, inboxes): a mismatch naming neither is the fence.
   */
  private isFence(err: unknown, adoption: boolean): boolean {
    if ((err as { code?: unknown }).code !== 'ERR_ETAG_MISMATCH') return false;
    const message = String((err as Error).message);
    if (message.includes(fenceKey(this.owner.id))) return true;
    return !adoption && !message.includes('wf-ix:');
  }

  /** The next batch: an adoption alone, else every queued write up to the next adoption; writes of a former member are refused. */
  private take(): Queued[] {
    if (this.queue.every((q) => q.adopted === undefined && q.owner === this.owner.id)) {
      const all = this.queue;
      this.queue = [];
      return all;
    }
    const batch: Queued[] = [];
    while (this.queue.length > 0) {
      const next = this.queue[0] as Queued;
      if (next.owner !== this.owner.id) {
        this.queue.shift();
        next.reject(lostError(undefined));
        continue;
      }
      if (next.adopted && batch.length > 0) break;
      batch.push(next);
      this.queue.shift();
      if (next.adopted) break;
    }
    return batch;
  }
}

/** A write of a process that another one adopted (fenced out), or for an instance it dropped since. */
function lostError(instanceId: string | undefined): SidekickError {
  return new SidekickError(
    'ERR_STATE_FENCING_TOKEN_STALE',
    `${instanceId === undefined ? 'workflow write' : `workflow instance '${instanceId}'`} refused: this process was fenced out (its lease had passed and another process adopted its workflow instances)`,
  );
}
