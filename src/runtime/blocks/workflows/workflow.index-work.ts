import type { BulkStateEntry, StateOperation } from '../state/state.types';
import { TERMINAL_STATUSES, type WorkflowStatus } from './workflow.types';

/** `[createdAt (epoch ms), workflow name]`: what a listing filters and sorts on without reading records. */
export type IndexEntry = readonly [number, string];

/** One page's stored value: instance id → entry. */
export type IndexPage = Record<string, IndexEntry>;

/** `wf-ix:<STATUS>`: the ids of the status's pages (JSON array). */
export const directoryKey = (status: WorkflowStatus): string => `wf-ix:${status}`;
/** `wf-ix:<STATUS>:<page>`: a page of entries. */
export const pageKey = (status: WorkflowStatus, page: string): string => `wf-ix:${status}:${page}`;

/** A page of the index is closed (a new one opened) once this many entries were added to it. */
export const PAGE_CAPACITY = 32;

export interface Location {
  readonly status: WorkflowStatus;
  readonly page: string;
}

/** A page this process opened: only it adds to it, so it may write the page from memory. */
export interface OwnPage {
  readonly status: WorkflowStatus;
  readonly page: string;
  readonly entries: IndexPage;
  size: number;
  /** Entries ever added (the page closes at PAGE_CAPACITY). */
  added: number;
}

export interface Reader {
  read(keys: readonly string[]): Promise<BulkStateEntry[]>;
  /** Creates a directory as `[]` unless it exists. */
  create(key: string): Promise<void>;
  newPage(): string;
}

interface Loaded {
  readonly entries: IndexPage;
  readonly etag?: string;
  changed: boolean;
}

/** An own page's change, to take back when the transaction is refused. */
interface Undo {
  readonly page: OwnPage;
  readonly id: string;
  readonly previous: IndexEntry | undefined;
  readonly added: number;
}

const parse = <T>(item: BulkStateEntry | undefined, empty: T): T => (item?.data ? (JSON.parse(item.data.toString('utf8')) as T) : empty);

/**
 * One commit's changes to the index (workflow.index.ts). Own pages are changed in place (with an undo
 * log: a refused transaction takes the changes back); pages opened by this commit, the open page of
 * each status and deletions are held here until `install`.
 */
export class IndexWork {
  private readonly created = new Map<string, OwnPage>();
  private readonly touched = new Set<string>();
  private readonly undoLog: Undo[] = [];
  private readonly openCopy: Map<WorkflowStatus, string>;
  /** Pages of others (or own pages no longer in memory), read with their etags. */
  private readonly foreign = new Map<string, Loaded>();
  private readonly changes = new Map<WorkflowStatus, { add: Set<string>; drop: Set<string> }>();
  private readonly directories = new Map<WorkflowStatus, { pages: string[]; etag?: string }>();
  /** Own pages this commit deletes (emptied and closed). */
  private readonly deleted = new Set<string>();

  constructor(
    private readonly reader: Reader,
    private readonly own: Map<string, OwnPage>,
    private readonly open: Map<WorkflowStatus, string>,
  ) {
    this.openCopy = new Map(open);
  }

  /** The open own page of `status` that takes the next entry (a new one when it is full or there is none). */
  placeFor(status: WorkflowStatus): Location {
    const key = this.openCopy.get(status);
    const page = key !== undefined ? (this.created.get(key) ?? this.own.get(key)) : undefined;
    if (page && page.added < PAGE_CAPACITY) {
      this.undoLog.push({ page, id: '', previous: undefined, added: page.added });
      page.added++;
      return { status, page: page.page };
    }
    const id = this.reader.newPage();
    const fresh: OwnPage = { status, page: id, entries: {}, size: 0, added: 1 };
    this.created.set(pageKey(status, id), fresh);
    this.openCopy.set(status, pageKey(status, id));
    this.change(status).add.add(id);
    return { status, page: id };
  }

  /**
   * Where every entry of the pages of `statuses` is (own pages in memory; the others are read, and kept
   * for the removals of this commit).
   */
  async search(statuses: readonly WorkflowStatus[]): Promise<Map<string, Location>> {
    const found = new Map<string, Location>();
    for (const page of this.own.values()) {
      if (!statuses.includes(page.status)) continue;
      for (const id of Object.keys(page.entries)) found.set(id, { status: page.status, page: page.page });
    }
    const dirs = await this.reader.read(statuses.map(directoryKey));
    const keys: { key: string; at: Location }[] = [];
    statuses.forEach((status, i) => {
      for (const page of parse<string[]>(dirs[i], [])) {
        const key = pageKey(status, page);
        if (!this.own.has(key)) keys.push({ key, at: { status, page } });
      }
    });
    if (keys.length === 0) return found;
    const pages = await this.reader.read(keys.map((k) => k.key));
    keys.forEach(({ key, at }, i) => {
      const item = pages[i];
      const entries = parse<IndexPage>(item, {});
      this.foreign.set(key, { entries, etag: item?.data ? item.etag : undefined, changed: false });
      for (const id of Object.keys(entries)) if (!found.has(id)) found.set(id, at);
    });
    return found;
  }

  /** Reads the pages entries leave that are not own pages in memory (with their etags). */
  async loadPages(froms: readonly Location[]): Promise<void> {
    const keys = [...new Set(froms.map((l) => pageKey(l.status, l.page)))].filter((k) => !this.own.has(k) && !this.created.has(k) && !this.foreign.has(k));
    if (keys.length === 0) return;
    const found = await this.reader.read(keys);
    keys.forEach((key, i) => {
      const item = found[i];
      this.foreign.set(key, { entries: parse<IndexPage>(item, {}), etag: item?.data ? item.etag : undefined, changed: false });
    });
  }

  /** Reads the directories that gain or lose a page (with their etags), creating missing ones first. */
  async loadDirectories(): Promise<void> {
    const statuses = [...this.changes].filter(([, c]) => c.add.size > 0 || c.drop.size > 0).map(([status]) => status);
    if (statuses.length === 0) return;
    let found = await this.reader.read(statuses.map(directoryKey));
    const missing = statuses.filter((_, i) => !found[i]?.data);
    if (missing.length > 0) {
      for (const status of missing) await this.reader.create(directoryKey(status));
      found = await this.reader.read(statuses.map(directoryKey));
    }
    statuses.forEach((status, i) => {
      const item = found[i];
      this.directories.set(status, { pages: parse<string[]>(item, []), etag: item?.data ? item.etag : undefined });
    });
  }

  remove(from: Location, id: string): void {
    const key = pageKey(from.status, from.page);
    const own = this.created.get(key) ?? this.own.get(key);
    if (own) {
      const previous = own.entries[id];
      if (previous === undefined) return;
      this.undoLog.push({ page: own, id, previous, added: own.added });
      delete own.entries[id];
      own.size--;
      this.touched.add(key);
      if (own.size === 0 && this.openCopy.get(from.status) !== key) {
        this.deleted.add(key);
        this.change(from.status).drop.add(from.page);
      }
      return;
    }
    const page = this.foreign.get(key);
    if (!page || !(id in page.entries)) return;
    delete page.entries[id];
    page.changed = true;
    if (Object.keys(page.entries).length === 0) this.change(from.status).drop.add(from.page);
  }

  add(to: Location, id: string, entry: IndexEntry): void {
    const key = pageKey(to.status, to.page);
    const page = this.created.get(key) ?? this.own.get(key);
    if (!page) return;
    const previous = page.entries[id];
    this.undoLog.push({ page, id, previous, added: page.added });
    page.entries[id] = entry;
    if (previous === undefined) page.size++;
    this.touched.add(key);
    this.deleted.delete(key);
  }

  ops(): StateOperation[] {
    const ops: StateOperation[] = [];
    for (const key of this.touched) {
      const page = this.created.get(key) ?? this.own.get(key);
      if (this.deleted.has(key)) ops.push({ operation: 'delete', request: { key } });
      else if (page) ops.push({ operation: 'upsert', request: { key, value: JSON.stringify(page.entries) } }); // only this process adds to it
    }
    for (const [key, page] of this.foreign) {
      if (!page.changed) continue;
      if (Object.keys(page.entries).length > 0) ops.push({ operation: 'upsert', request: { key, value: JSON.stringify(page.entries), etag: page.etag } });
      else if (page.etag !== undefined) ops.push({ operation: 'delete', request: { key, etag: page.etag } });
    }
    for (const [status, change] of this.changes) {
      const loaded = this.directories.get(status);
      if (!loaded || (change.add.size === 0 && change.drop.size === 0)) continue;
      const pages = [...loaded.pages, ...change.add].filter((p) => !change.drop.has(p));
      // a directory stays once created (`[]` when empty): created again, two processes could race
      ops.push({ operation: 'upsert', request: { key: directoryKey(status), value: JSON.stringify(pages), etag: loaded.etag } });
    }
    return ops;
  }

  install(): void {
    for (const [key, page] of this.created) this.own.set(key, page);
    for (const key of this.deleted) this.own.delete(key);
    this.open.clear();
    for (const [status, key] of this.openCopy) this.open.set(status, key);
    for (const [key, page] of this.own) {
      // closed pages of ended instances are left rarely (a purge): read them then
      if (TERMINAL_STATUSES.includes(page.status) && this.open.get(page.status) !== key) this.own.delete(key);
    }
  }

  undo(): void {
    for (const u of this.undoLog.reverse()) {
      u.page.added = u.added;
      if (u.id === '') continue;
      const now = u.page.entries[u.id];
      if (u.previous === undefined) {
        if (now !== undefined) u.page.size--;
        delete u.page.entries[u.id];
      } else {
        if (now === undefined) u.page.size++;
        u.page.entries[u.id] = u.previous;
      }
    }
  }

  /** After a write that may have failed half-way: the touched own pages are read from the store from now on. */
  forget(): void {
    for (const key of this.touched) this.own.delete(key);
    for (const [status, key] of this.open) if (this.touched.has(key)) this.open.delete(status);
  }

  private change(status: WorkflowStatus): { add: Set<string>; drop: Set<string> } {
    let change = this.changes.get(status);
    if (!change) this.changes.set(status, (change = { add: new Set(), drop: new Set() }));
    return change;
  }
}
