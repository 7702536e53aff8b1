import { ActorError, ActorScheduleError } from '../../../errors/actor.errors';
import { errorMessage } from '../../../errors/sidekick.error';
import type { Clock, TimerHandle } from '../../../spi/clock';
import type { SidekickLogger } from '../../../spi/logger';
import type { ActorReminderInfo, ActorScheduleOptions } from './abstract-actor';
import { firingAt, parseSchedule, type Schedule } from './actor-schedule';
import type { ActorStore } from './actor-store';

/** A reminder as stored in the actor state store (one JSON array per actor type, key `actors||<appId>||<type>`). */
interface StoredReminder {
  readonly actorId: string;
  readonly name: string;
  readonly dueTime?: string;
  readonly period?: string;
  readonly ttl?: string;
  readonly data?: unknown;
  readonly registeredAt: number;
  readonly schedule: Schedule;
  /** Firings done (or skipped while no instance ran). */
  fired: number;
}

interface Entry {
  readonly reminder: StoredReminder;
  handle?: TimerHandle;
}

/** Delivers one firing; answering `cancel` deletes the reminder (Dapr's `X-DaprReminderCancel`). */
export type ReminderFire = (type: string, id: string, name: string, data: unknown, schedule: { dueTime?: string; period?: string }) => Promise<unknown>;

/**
 * Durable reminders: registered in the actor state store at once, fired in the actor's turn
 * (`receiveReminder(name, data)`), loaded and re-armed at start. A firing due while no instance ran
 * fires once on recovery (the missed ones collapse into it). Progress (firings done) is saved at most
 * every `flushMs` and at stop, so a crash may repeat the firings of its last `flushMs`: at least once.
 */
export class ReminderScheduler {
  private readonly byType = new Map<string, Map<string, Entry>>();
  private readonly dirty = new Set<string>();
  private readonly writes = new Map<string, { running?: Promise<void>; queued?: Promise<void> }>();
  /** Registrations (a reminder) and deletions (null) not yet written, per type. */
  private readonly changes = new Map<string, Map<string, StoredReminder | null>>();
  /** Placement: whether this instance owns an actor (only the owner fires its reminders). */
  private owns: (type: string, id: string) => boolean = () => true;
  private shared = false;
  private flushTimer?: NodeJS.Timeout;
  private stopped = false;
  /** Firings delivered since start (for tests and benchmarks). */
  firedCount = 0;

  constructor(
    private readonly store: ActorStore,
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
    private readonly fire: ReminderFire,
    private readonly flushMs = 1000,
  ) {}

  /**
   * Placement across instances: fire only the reminders of owned actors, and merge the type's list with
   * the other instances' on every write (compare-and-set) and every `flushMs`.
   */
  setOwnership(owns: (type: string, id: string) => boolean): void {
    this.owns = owns;
    this.shared = true;
  }

  /** Re-reads every type's list (after a membership change: reminders of actors now owned here). */
  resync(): void {
    for (const type of this.byType.keys()) {
      this.persist(type).catch((err: unknown) => this.logger.warn({ actorType: type, err: errorMessage(err) }, 'reading actor reminders failed'));
    }
  }

  /** Loads the reminders of `types` and arms them. */
  async start(types: readonly string[]): Promise<void> {
    await this.host(types);
    this.flushTimer = setInterval(() => void this.flush(), this.flushMs);
    this.flushTimer.unref();
  }

  /** Loads and arms the reminders of more types (sidecar mode: the app's, once it has told them). */
  async host(types: readonly string[]): Promise<void> {
    const added = new Map<string, Map<string, Entry>>();
    for (const type of types) {
      if (this.byType.has(type)) continue;
      const entries = new Map<string, Entry>();
      this.byType.set(type, entries);
      added.set(type, entries);
      const raw = await this.store.getRaw(this.store.remindersKey(type));
      if (!raw) continue;
      let list: StoredReminder[];
      try {
        list = JSON.parse(raw.toString('utf8')) as StoredReminder[];
      } catch (err) {
        throw new ActorError(
          'ERR_ACTOR_REMINDER_GET',
          `the reminders of actor type ${type} (key ${this.store.remindersKey(type)}) are not valid JSON: ${errorMessage(err)}`,
        );
      }
      for (const reminder of list) entries.set(entryKey(reminder.actorId, reminder.name), { reminder });
    }
    for (const [type, entries] of added) for (const entry of entries.values()) this.arm(type, entry);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    for (const entries of this.byType.values()) for (const entry of entries.values()) if (entry.handle) this.clock.clearTimeout(entry.handle);
    await this.flush();
  }

  count(): number {
    let n = 0;
    for (const entries of this.byType.values()) n += entries.size;
    return n;
  }

  async register(type: string, id: string, name: string, options: ActorScheduleOptions, overwrite = true): Promise<void> {
    const entries = this.entries(type);
    const now = this.clock.now();
    const parsed = parseSchedule(options, now);
    if (!parsed.ok) throw new ActorScheduleError('ERR_ACTOR_REMINDER_CREATE', parsed.field, `error creating actor reminder "${name}": ${parsed.reason}`);
    const key = entryKey(id, name);
    const existing = entries.get(key);
    if (existing && !overwrite) throw new ActorError('ERR_ACTOR_REMINDER_ALREADY_EXISTS', `reminder "${name}" of actor ${type}/${id} already exists`);
    if (existing?.handle) this.clock.clearTimeout(existing.handle);
    const reminder: StoredReminder = {
      actorId: id,
      name,
      dueTime: options.dueTime || undefined,
      period: options.period || undefined,
      ttl: options.ttl || undefined,
      data: options.data,
      registeredAt: now,
      schedule: parsed.schedule,
      fired: 0,
    };
    const entry: Entry = { reminder };
    entries.set(key, entry);
    this.change(type).set(key, reminder);
    try {
      await this.persist(type);
    } catch (err) {
      if (entries.get(key) === entry) entries.delete(key);
      throw new ActorError('ERR_ACTOR_REMINDER_CREATE', `error creating actor reminder "${name}" of ${type}/${id}: ${errorMessage(err)}`, { cause: err });
    }
    if (entries.get(key) === entry) this.arm(type, entry);
  }

  async unregister(type: string, id: string, name: string): Promise<void> {
    const entries = this.entries(type);
    const entry = entries.get(entryKey(id, name));
    if (!entry) return;
    if (entry.handle) this.clock.clearTimeout(entry.handle);
    entries.delete(entryKey(id, name));
    this.change(type).set(entryKey(id, name), null);
    try {
      await this.persist(type);
    } catch (err) {
      throw new ActorError('ERR_ACTOR_REMINDER_DELETE', `error deleting actor reminder "${name}" of ${type}/${id}: ${errorMessage(err)}`, { cause: err });
    }
  }

  async get(type: string, id: string, name: string): Promise<ActorReminderInfo | undefined> {
    const entry = this.entries(type).get(entryKey(id, name));
    if (!entry) return undefined;
    const r = entry.reminder;
    return Promise.resolve({ actorType: type, actorId: id, name, dueTime: r.dueTime, period: r.period, ttl: r.ttl, data: r.data });
  }

  /** Epoch ms at which the reminder's TTL ends, if it has one. */
  expiry(type: string, id: string, name: string): number | undefined {
    return this.byType.get(type)?.get(entryKey(id, name))?.reminder.schedule.expiresAt;
  }

  private entries(type: string): Map<string, Entry> {
    const entries = this.byType.get(type);
    if (!entries) {
      throw new ActorError(
        'ERR_ACTOR_REMINDER_NON_HOSTED',
        `actor type ${type} is not hosted by this app: its reminders cannot be managed here (hosted types: ${[...this.byType.keys()].join(', ') || 'none'})`,
      );
    }
    return entries;
  }

  private arm(type: string, entry: Entry): void {
    if (this.stopped) return;
    const r = entry.reminder;
    const at = firingAt(r.schedule, r.fired);
    if (at === undefined) {
      this.retire(type, entry);
      return;
    }
    entry.handle = this.clock.setTimeout(() => this.onDue(type, entry), Math.max(0, at - this.clock.now()));
  }

  private onDue(type: string, entry: Entry): void {
    const entries = this.byType.get(type);
    if (this.stopped || entries?.get(entryKey(entry.reminder.actorId, entry.reminder.name)) !== entry) return;
    const r = entry.reminder;
    if (!this.owns(type, r.actorId)) {
      // Another instance owns the actor and fires it; look again later (ownership may come here).
      entry.handle = this.clock.setTimeout(() => this.onDue(type, entry), 1000);
      return;
    }
    // Firings missed while nothing ran collapse into this one: skip to the first one still ahead.
    const now = this.clock.now();
    let next = r.fired + 1;
    for (let at = firingAt(r.schedule, next); at !== undefined && at < now; at = firingAt(r.schedule, next)) next++;
    r.fired = next;
    this.dirty.add(type);
    this.fire(type, r.actorId, r.name, r.data, { dueTime: r.dueTime, period: r.period })
      .then((outcome) => {
        this.firedCount++;
        if (outcome === 'cancel') this.retire(type, entry);
      })
      .catch((err: unknown) =>
        this.logger.warn({ actorType: type, actorId: r.actorId, reminder: r.name, err: errorMessage(err) }, 'actor reminder delivery failed'),
      )
      .finally(() => {
        if (entries.get(entryKey(r.actorId, r.name)) === entry) this.arm(type, entry);
      });
  }

  /** A reminder with no firing left is deleted. */
  private retire(type: string, entry: Entry): void {
    const entries = this.byType.get(type);
    const key = entryKey(entry.reminder.actorId, entry.reminder.name);
    if (entries?.get(key) !== entry) return;
    entries.delete(key);
    this.change(type).set(key, null);
    this.dirty.add(type);
  }

  private change(type: string): Map<string, StoredReminder | null> {
    let changes = this.changes.get(type);
    if (!changes) {
      changes = new Map();
      this.changes.set(type, changes);
    }
    return changes;
  }

  private async flush(): Promise<void> {
    const types = this.shared ? [...this.byType.keys()] : [...this.dirty];
    await Promise.all(
      types.map((type) =>
        this.persist(type).catch((err: unknown) => {
          this.logger.warn({ actorType: type, err: errorMessage(err) }, 'saving actor reminder progress failed; will retry');
        }),
      ),
    );
  }

  /**
   * Writes the type's reminders: one write at a time per type, each with the latest list; callers
   * arriving while a write waits to start share it (10,000 registrations make a few writes, not 10,000).
   */
  private persist(type: string): Promise<void> {
    let slot = this.writes.get(type);
    if (!slot) {
      slot = {};
      this.writes.set(type, slot);
    }
    if (slot.queued) return slot.queued;
    const own = slot;
    const queued: Promise<void> = (own.running ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        own.queued = undefined;
        own.running = queued;
        return this.writeMerged(type);
      });
    own.queued = queued;
    return queued;
  }

  /**
   * Writes the type's list: reads the stored one, applies this instance's registrations, deletions
   * and firing progress, and writes it back under its etag (again on a conflict with another
   * instance's write). What others registered is adopted here (armed; fired only by the owner).
   */
  private async writeMerged(type: string): Promise<void> {
    const key = this.store.remindersKey(type);
    for (let attempt = 0; ; attempt++) {
      const found = await this.store.getEntry(key);
      const stored = found ? (JSON.parse(found.data.toString('utf8')) as StoredReminder[]) : [];
      const merged = new Map(stored.map((r) => [entryKey(r.actorId, r.name), r]));
      const snapshot = this.changes.get(type) ?? new Map<string, StoredReminder | null>();
      this.changes.set(type, new Map());
      const progressed = this.dirty.delete(type);
      for (const [k, r] of snapshot) {
        if (r === null) merged.delete(k);
        else merged.set(k, r);
      }
      for (const [k, entry] of this.byType.get(type) ?? []) {
        const m = merged.get(k);
        if (m && m !== entry.reminder && m.registeredAt === entry.reminder.registeredAt) m.fired = Math.max(m.fired, entry.reminder.fired);
      }
      if (found && snapshot.size === 0 && !progressed) {
        this.adopt(type, merged);
        return;
      }
      try {
        await this.store.setEntry(key, JSON.stringify([...merged.values()]), found?.etag);
        this.adopt(type, merged);
        return;
      } catch (err) {
        // Put the changes back (those not changed again meanwhile) and try again on a conflict.
        const again = this.change(type);
        for (const [k, r] of snapshot) if (!again.has(k)) again.set(k, r);
        if (progressed) this.dirty.add(type);
        const conflict = err instanceof Error && /etag|ERR_ETAG/i.test(`${(err as { code?: string }).code ?? ''} ${err.message}`);
        if (!conflict || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      }
    }
  }

  /** Takes the stored list into memory: new reminders armed, ones deleted elsewhere dropped, progress kept. */
  private adopt(type: string, merged: Map<string, StoredReminder>): void {
    const entries = this.byType.get(type);
    if (!entries || this.stopped) return;
    const pending = this.changes.get(type);
    for (const [k, entry] of entries) {
      if (merged.has(k) || pending?.has(k)) continue;
      if (entry.handle) this.clock.clearTimeout(entry.handle);
      entries.delete(k);
    }
    for (const [k, r] of merged) {
      if (pending?.has(k)) continue;
      const entry = entries.get(k);
      if (entry && entry.reminder.registeredAt === r.registeredAt) {
        entry.reminder.fired = Math.max(entry.reminder.fired, r.fired);
        continue;
      }
      if (entry?.handle) this.clock.clearTimeout(entry.handle);
      const fresh: Entry = { reminder: r };
      entries.set(k, fresh);
      this.arm(type, fresh);
    }
  }
}

function entryKey(id: string, name: string): string {
  return `${id}||${name}`;
}
