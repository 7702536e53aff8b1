import { SidekickError } from '../../../errors/sidekick.error';
import { FENCING_RESOURCE, FENCING_TOKEN } from '../state/fencing';
import type { StateService } from '../state/state.service';
import type { StateOperation } from '../state/state.types';
import { ownerResource } from './workflow.ownership';
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
  /** Written alone, in its own transaction (an adoption). */
  readonly solo?: boolean;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

const indexKey = (member: string): string => `wf-index:${member}`;
const metaKey = (id: string): string => `wf-meta:${id}`;
const chunkKey = (id: string, n: number): string => `wf-h:${id}:${n}`;

/**
 * Workflow state in a state store, through the state block's service (so `keyPrefix` applies):
 * `wf-meta:<id>` (the instance record), `wf-h:<id>:<n>` (history, appended in chunks: one per step),
 * `wf-index:<member>` (the ids of the active instances a process drives, for another to adopt).
 * Writes are group-committed: the writes queued while one transaction runs go together in the next,
 * with one copy of the index. Every transaction carries the process's fencing token (resource
 * `wf-owner:<member>`, checked by the state block): once another process adopted this one's
 * instances, its writes fail with `ERR_STATE_FENCING_TOKEN_STALE`.
 */
export class WorkflowStore {
  private readonly active = new Set<string>();
  private queue: Queued[] = [];
  private writing = false;
  private indexDirty = false;
  private owner = { id: '', token: 0 };

  constructor(
    private readonly state: StateService,
    /** The store's name, picked at first use (so an app without workflows needs no state store). */
    private readonly store: () => string,
  ) {}

  get storeName(): string {
    return this.store();
  }

  /** The member (process) whose writes this store makes now. */
  get ownerId(): string {
    return this.owner.id;
  }

  /** The member whose writes follow, and its fencing token; its index starts empty. */
  setOwner(id: string, token: number): void {
    this.owner = { id, token };
    this.active.clear();
    this.indexDirty = false;
  }

  /** The active instance ids of `member` as last committed. */
  async activeIds(member: string = this.owner.id): Promise<string[]> {
    const found = await this.state.get(this.storeName, indexKey(member));
    return found ? (JSON.parse(found.data.toString('utf8')) as string[]) : [];
  }

  /**
   * Takes `ids` (the active instances of `dead`) into this process's index, deletes `dead`'s index and
   * applies `ops` (moving its inbox), in one transaction fenced with `token` for `dead`: from then on
   * the dead process (if only paused) can write nothing more.
   */
  adopt(dead: string, token: number, ids: readonly string[], ops: readonly StateOperation[]): Promise<void> {
    const all = [...this.active, ...ids.filter((id) => !this.active.has(id))];
    const fenced: StateOperation[] = [
      { operation: 'upsert', request: { key: indexKey(this.owner.id), value: JSON.stringify(all), metadata: this.fence() } },
      { operation: 'delete', request: { key: indexKey(dead) } },
      ...ops.map((op): StateOperation =>
        op.operation === 'upsert'
          ? { operation: 'upsert', request: { ...op.request, metadata: { [FENCING_TOKEN]: String(token), [FENCING_RESOURCE]: ownerResource(dead) } } }
          : op,
      ),
    ];
    return this.enqueue(fenced, this.owner.id, true).then(() => {
      for (const id of ids) this.active.add(id);
    });
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
    return this.enqueue(ops, w.record.owner);
  }

  /** Replaces an instance's history by `chunk` (continue-as-new): `record.chunks` must be 1. */
  restart(previous: InstanceRecord, record: InstanceRecord, chunk: readonly HistoryEvent[]): Promise<void> {
    if (record.owner !== this.owner.id) return Promise.reject(lostError(record.instanceId));
    const ops: StateOperation[] = [];
    for (let n = 1; n < previous.chunks; n++) ops.push({ operation: 'delete', request: { key: chunkKey(record.instanceId, n) } });
    ops.push({ operation: 'upsert', request: { key: chunkKey(record.instanceId, 0), value: JSON.stringify(chunk) } });
    ops.push({ operation: 'upsert', request: { key: metaKey(record.instanceId), value: JSON.stringify(record) } });
    return this.enqueue(ops, record.owner ?? '');
  }

  /** Deletes an instance's record and history. */
  purge(record: InstanceRecord): Promise<void> {
    const ops: StateOperation[] = [{ operation: 'delete', request: { key: metaKey(record.instanceId) } }];
    for (let n = 0; n < record.chunks; n++) ops.push({ operation: 'delete', request: { key: chunkKey(record.instanceId, n) } });
    if (this.active.delete(record.instanceId)) this.indexDirty = true;
    return this.enqueue(ops, this.owner.id);
  }

  private fence(): Record<string, string> {
    return { [FENCING_TOKEN]: String(this.owner.token), [FENCING_RESOURCE]: ownerResource(this.owner.id) };
  }

  private enqueue(ops: StateOperation[], owner: string, solo = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, owner, solo, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.take();
        if (batch.length === 0) continue;
        const ops = batch.flatMap((q) => q.ops);
        if (batch[0]?.solo !== true && (this.indexDirty || !ops.some((op) => op.operation === 'upsert'))) {
          this.indexDirty = false;
          ops.push({ operation: 'upsert', request: { key: indexKey(this.owner.id), value: JSON.stringify([...this.active]) } });
        }
        const first = ops.findIndex((op) => op.operation === 'upsert' && op.request.metadata === undefined);
        const op = ops[first];
        if (op?.operation === 'upsert') ops[first] = { operation: 'upsert', request: { ...op.request, metadata: this.fence() } };
        try {
          await this.state.transact(this.storeName, ops);
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

  /** The next batch: a solo write alone, else every queued write up to the next solo; writes of a former member are refused. */
  private take(): Queued[] {
    const batch: Queued[] = [];
    while (this.queue.length > 0) {
      const next = this.queue[0] as Queued;
      if (next.owner !== this.owner.id) {
        this.queue.shift();
        next.reject(lostError('?'));
        continue;
      }
      if (next.solo && batch.length > 0) break;
      batch.push(next);
      this.queue.shift();
      if (next.solo) break;
    }
    return batch;
  }
}

/** A write for an instance this process no longer drives (it joined again under a new id). */
function lostError(instanceId: string): SidekickError {
  return new SidekickError(
    'ERR_STATE_FENCING_TOKEN_STALE',
    `workflow instance '${instanceId}': this process no longer drives it (its lease passed and another process adopted its instances)`,
  );
}
