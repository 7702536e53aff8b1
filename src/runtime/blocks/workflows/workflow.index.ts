import { randomUUID } from 'node:crypto';
import { ETagMismatchError } from '../../../errors/state.errors';
import type { StateService } from '../state/state.service';
import type { StateOperation } from '../state/state.types';
import { TERMINAL_STATUSES, type InstanceRecord, type WorkflowStatus } from './workflow.types';
import { IndexWork, type IndexEntry, type Location, type OwnPage, type Reader } from './workflow.index-work';

export { directoryKey, pageKey, PAGE_CAPACITY, type IndexEntry, type IndexPage } from './workflow.index-work';

/** Statuses an instance record can be stored with (CONTINUED_AS_NEW is never stored: the instance runs again). */
export const INDEXED_STATUSES: readonly WorkflowStatus[] = ['PENDING', 'RUNNING', 'SUSPENDED', 'COMPLETED', 'FAILED', 'TERMINATED'];
const ACTIVE_STATUSES: readonly WorkflowStatus[] = ['PENDING', 'RUNNING', 'SUSPENDED'];

/** `wf-ixl:<id>`: where an ended instance's entry is (`[status, page]`), so that a purge finds it. */
export const locationKey = (id: string): string => `wf-ixl:${id}`;

/** A change of an instance's place in the index: `to` undefined takes it out (purge); `fresh`: it is in none yet. */
export interface IndexMove {
  readonly id: string;
  readonly fresh?: boolean;
  readonly to?: { readonly status: WorkflowStatus; readonly entry: IndexEntry };
}

/** What one commit writes to the index, and what to do once the transaction is decided. */
export interface IndexPlan {
  readonly ops: StateOperation[];
  /** The transaction committed: memory follows. */
  committed(): void;
  /** The transaction was refused (an etag): nothing was written; memory is as before. */
  refused(): void;
  /** The transaction may or may not have been written: the pages it touched are read from the store from now on. */
  uncertain(): void;
}

/**
 * The status index kept with the instance records, so that a listing by status reads index keys, never
 * histories. Each status has a directory (`wf-ix:<STATUS>`, its page ids) and pages
 * (`wf-ix:<STATUS>:<page>`, `{id: [createdAt, name]}`). A process adds entries only to pages it opened
 * (ids `<process>-<n>`, closed at 256 entries), which it holds in memory and writes without reading:
 * nobody else adds to them. Removing an entry from another page (an instance started by another
 * process, or before a restart) and changing a directory read the key first and write it with its
 * etag; a concurrent change makes the transaction fail and the caller plans again. All of it is written
 * in the transaction of the instance record. A listing checks each record, so an entry left behind
 * (at worst) is never reported.
 */
export class WorkflowStatusIndex {
  private readonly process = randomUUID().slice(0, 8);
  private pages = 0;
  /** Where the entries of the active instances this process wrote are. */
  private readonly known = new Map<string, Location>();
  /** Own pages in memory, by page key: open ones, and closed ones of active statuses until emptied. */
  private readonly own = new Map<string, OwnPage>();
  /** The open own page of each status (its page key). */
  private readonly open = new Map<WorkflowStatus, string>();
  /**
   * Where the last search of the active pages found each entry: instances resumed after a restart are
   * found here instead of by one search each (a hint: an entry moved since is at worst left behind).
   */
  private hints = new Map<string, Location>();
  private readonly reader: Reader;

  constructor(
    private readonly state: StateService,
    private readonly store: () => string,
  ) {
    this.reader = {
      read: (keys) => this.state.bulkGet(this.store(), keys),
      create: (key) => this.create(key),
      newPage: () => `${this.process}-${this.pages++}`,
    };
  }

  moveFor(record: InstanceRecord, fresh: boolean): IndexMove {
    return { id: record.instanceId, fresh, to: { status: record.status, entry: [record.createdAt, record.name] } };
  }

  /** The operations that apply `moves` (in order) to the index. */
  async prepare(moves: readonly IndexMove[]): Promise<IndexPlan> {
    const work = new IndexWork(this.reader, this.own, this.open);
    const found = await this.locate(
      moves.filter((m) => !m.fresh && !this.known.has(m.id)).map((m) => m.id),
      work,
    );
    const located = new Map<string, Location | undefined>();
    const steps: { id: string; from?: Location; to?: Location; entry?: IndexEntry }[] = [];
    /** Entries that stay where they were found (an adopted or resumed instance's: known from now on). */
    const stays: [string, Location][] = [];
    for (const move of moves) {
      const from = located.has(move.id) ? located.get(move.id) : move.fresh ? undefined : (this.known.get(move.id) ?? found.get(move.id));
      if (from && move.to && from.status === move.to.status) {
        stays.push([move.id, from]); // same status: the entry stays
        continue;
      }
      const to = move.to ? work.placeFor(move.to.status) : undefined;
      located.set(move.id, to);
      steps.push({ id: move.id, from, to, entry: move.to?.entry });
    }
    await work.loadPages(steps.flatMap((s) => (s.from ? [s.from] : [])));
    const locations: StateOperation[] = [];
    for (const { id, from, to, entry } of steps) {
      if (from) work.remove(from, id);
      if (to && entry) work.add(to, id, entry);
      if (to && TERMINAL_STATUSES.includes(to.status)) {
        locations.push({ operation: 'upsert', request: { key: locationKey(id), value: JSON.stringify([to.status, to.page]) } });
      } else if (from && TERMINAL_STATUSES.includes(from.status)) {
        locations.push({ operation: 'delete', request: { key: locationKey(id) } });
      }
    }
    await work.loadDirectories();
    return {
      ops: [...work.ops(), ...locations],
      committed: () => {
        work.install();
        for (const [id, at] of stays) if (!TERMINAL_STATUSES.includes(at.status)) this.known.set(id, at);
        for (const { id, to } of steps) {
          this.hints.delete(id);
          if (to && !TERMINAL_STATUSES.includes(to.status)) this.known.set(id, to);
          else this.known.delete(id);
        }
      },
      refused: () => work.undo(),
      uncertain: () => work.forget(),
    };
  }

  /**
   * Where instances this process does not know are: an ended one's location key, else a search of the
   * pages of the active statuses (an instance resumed after a restart or taken over: few pages).
   */
  private async locate(ids: readonly string[], work: IndexWork): Promise<Map<string, Location>> {
    const found = new Map<string, Location>();
    if (ids.length === 0) return found;
    const keys = await this.reader.read(ids.map(locationKey));
    ids.forEach((id, i) => {
      const data = keys[i]?.data;
      if (!data) return;
      const [status, page] = JSON.parse(data.toString('utf8')) as [WorkflowStatus, string];
      found.set(id, { status, page });
    });
    let rest = ids.filter((id) => !found.has(id));
    for (const id of rest) {
      const hint = this.hints.get(id);
      if (hint) found.set(id, hint);
    }
    rest = rest.filter((id) => !found.has(id));
    if (rest.length > 0) {
      this.hints = await work.search(ACTIVE_STATUSES);
      for (const id of rest) {
        const at = this.hints.get(id);
        if (at) found.set(id, at);
      }
    }
    return found;
  }

  /**
   * Creates a directory as `[]` unless it exists, on its own: a first-write save refuses an existing key
   * on every store, and on Redis marks the key so that saves without its etag are refused (inside a
   * transaction Redis would not refuse: daprd's rule; two processes could both create it).
   */
  private async create(key: string): Promise<void> {
    try {
      await this.state.save(this.store(), [{ key, value: '[]', options: { concurrency: 'first-write' } }]);
    } catch (err) {
      if (!(err instanceof ETagMismatchError)) throw err; // created by another process meanwhile: fine
    }
  }
}
