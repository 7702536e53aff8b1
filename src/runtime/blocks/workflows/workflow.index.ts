import type { StateService } from '../state/state.service';
import type { StateOperation } from '../state/state.types';
import { TERMINAL_STATUSES, type InstanceRecord, type WorkflowStatus } from './workflow.types';

/** Statuses an instance record can be stored with (CONTINUED_AS_NEW is never stored: the instance runs again). */
export const INDEXED_STATUSES: readonly WorkflowStatus[] = ['PENDING', 'RUNNING', 'SUSPENDED', 'COMPLETED', 'FAILED', 'TERMINATED'];

/** Each status's index is split in this many keys, by a hash of the instance id. */
export const INDEX_SHARDS = 32;

/** `[createdAt (epoch ms), workflow name]`: what a listing filters and sorts on without reading records. */
export type IndexEntry = readonly [number, string];

/** One shard's stored value: instance id → entry. */
export type IndexShard = Record<string, IndexEntry>;

export const indexKey = (status: WorkflowStatus, shard: number): string => `wf-ix:${status}:${shard}`;

/** FNV-1a over the UTF-16 code units, mod {@link INDEX_SHARDS}: where an id's entry lives in each status. */
export function shardOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % INDEX_SHARDS;
}

/**
 * A change of an instance's place in the status index. `to`: where it goes (undefined: out, on purge).
 * `from`: the status it is known to leave; `'new'` for a first write; undefined when unknown (every
 * other status's shard of the id is then checked).
 */
export interface IndexMove {
  readonly id: string;
  readonly from?: WorkflowStatus | 'new';
  readonly to?: { readonly status: WorkflowStatus; readonly entry: IndexEntry };
}

interface LoadedShard {
  readonly key: string;
  readonly entries: IndexShard;
  readonly etag?: string;
  changed: boolean;
}

/**
 * The status index kept with the instance records: `wf-ix:<STATUS>:<shard>` holds the ids of the
 * instances with that status (and their creation time and name), so a listing by status reads these
 * keys, never the histories. The index is written in the same transaction as the record, and each
 * shard is read first and written with its etag (several processes may update one shard); a listing
 * still checks each record, so an entry left behind by a process that did not know an instance's
 * former status is never reported.
 */
export class WorkflowStatusIndex {
  /** The status last written (or read) for active instances this process handles: where their entry is. */
  private readonly known = new Map<string, WorkflowStatus>();

  constructor(
    private readonly state: StateService,
    private readonly store: () => string,
  ) {}

  /** Remembers where a record read from the store is indexed (active instances only). */
  noteRead(record: InstanceRecord): void {
    if (TERMINAL_STATUSES.includes(record.status)) this.known.delete(record.instanceId);
    else this.known.set(record.instanceId, record.status);
  }

  /** The move a write of `record` makes (nothing when its status and entry stay). `fresh`: a first write. */
  moveFor(record: InstanceRecord, fresh: boolean): IndexMove {
    return { id: record.instanceId, from: fresh ? 'new' : undefined, to: { status: record.status, entry: [record.createdAt, record.name] } };
  }

  /**
   * The operations that apply `moves` (in order) to the index as it is stored now. Shards are read
   * with their etags; a concurrent change of one makes the transaction fail with an etag mismatch, and
   * the caller asks again.
   */
  async ops(moves: readonly IndexMove[]): Promise<StateOperation[]> {
    // Where each id is before its move: a move earlier in the same batch, else what this process knows.
    const before = new Map<string, WorkflowStatus | 'new' | undefined>();
    const planned: { move: IndexMove; from: readonly WorkflowStatus[] }[] = [];
    for (const move of moves) {
      const prior = move.from ?? (before.has(move.id) ? before.get(move.id) : this.known.get(move.id));
      before.set(move.id, move.to ? move.to.status : 'new');
      const from = prior === 'new' ? [] : prior !== undefined ? [prior] : INDEXED_STATUSES;
      if (move.to && from.length === 1 && from[0] === move.to.status) continue; // same status: the entry is there
      planned.push({ move, from });
    }
    const keys = new Set<string>();
    for (const { move, from } of planned) {
      const shard = shardOf(move.id);
      for (const s of from) keys.add(indexKey(s, shard));
      if (move.to) keys.add(indexKey(move.to.status, shard));
    }
    if (keys.size === 0) return [];
    const list = [...keys];
    const found = await this.state.bulkGet(this.store(), list);
    const shards = new Map<string, LoadedShard>();
    list.forEach((key, i) => {
      const item = found[i];
      const entries = item?.data ? (JSON.parse(item.data.toString('utf8')) as IndexShard) : {};
      shards.set(key, { key, entries, etag: item?.data ? item.etag : undefined, changed: false });
    });
    for (const { move, from } of planned) {
      const shard = shardOf(move.id);
      for (const s of from) {
        if (s === move.to?.status) continue;
        const loaded = shards.get(indexKey(s, shard));
        if (loaded && move.id in loaded.entries) {
          delete loaded.entries[move.id];
          loaded.changed = true;
        }
      }
      if (!move.to) continue;
      const target = shards.get(indexKey(move.to.status, shard));
      const current = target?.entries[move.id];
      if (target && (!current || current[0] !== move.to.entry[0] || current[1] !== move.to.entry[1])) {
        target.entries[move.id] = move.to.entry;
        target.changed = true;
      }
    }
    const ops: StateOperation[] = [];
    for (const s of shards.values()) {
      if (!s.changed) continue;
      if (Object.keys(s.entries).length === 0) {
        if (s.etag !== undefined) ops.push({ operation: 'delete', request: { key: s.key, etag: s.etag } });
      } else {
        ops.push({
          operation: 'upsert',
          request:
            s.etag !== undefined
              ? { key: s.key, value: JSON.stringify(s.entries), etag: s.etag }
              : { key: s.key, value: JSON.stringify(s.entries), options: { concurrency: 'first-write' } },
        });
      }
    }
    return ops;
  }

  /** After the transaction holding `ops(moves)` committed: where the moved instances now are. */
  committed(moves: readonly IndexMove[]): void {
    for (const m of moves) {
      if (!m.to || TERMINAL_STATUSES.includes(m.to.status)) this.known.delete(m.id);
      else this.known.set(m.id, m.to.status);
    }
  }
}
