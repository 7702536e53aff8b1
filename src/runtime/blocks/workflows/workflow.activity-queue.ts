import { errorMessage } from '../../../errors/sidekick.error';
import type { SidekickLogger } from '../../../spi/logger';
import type { StateService } from '../state/state.service';
import type { InboxItem, Instance } from './workflow.instance';
import { isConflict } from './workflow.mailbox';
import type { HistoryEvent } from './workflow.types';

type Scheduled = Extract<HistoryEvent, { type: 'TaskScheduled' }>;

/** An activity to run for an instance another process drives; the result goes back to `replyTo`. */
interface WorkTask {
  readonly kind: 'task';
  readonly instanceId: string;
  readonly action: Scheduled;
  readonly replyTo: string;
  readonly at: number;
}

/** The result (`TaskCompleted` / `TaskFailed`) of a task run by process `from`. */
interface WorkResult {
  readonly kind: 'result';
  readonly instanceId: string;
  readonly event: HistoryEvent;
  readonly from: string;
  readonly at: number;
}

type WorkItem = WorkTask | WorkResult;

interface Pending {
  readonly inst: Instance;
  readonly action: Scheduled;
  readonly generation: number;
  readonly member: string;
}

/** What the queue needs from the engine and the membership. */
export interface ActivityQueueHooks {
  /** This process's member id ('' before it joined). */
  self(): string;
  /** The live members at the last heartbeat (this one included). */
  live(): readonly string[];
  /** Feeds a result to the instance, as a local activity's (dropped if the instance moved or continued as new). */
  deliver(inst: Instance, item: InboxItem): void;
  /** Runs the activity here. */
  run(instanceId: string, action: Scheduled): Promise<HistoryEvent>;
}

export const workKey = (member: string): string => `wf-work:${member}`;
/** A result that could not be written this long (its owner gone for good) is dropped: the adopter runs the step again. */
const KEEP_UNSENT_MS = 60_000;
const MAX_ATTEMPTS = 50;

/**
 * Activities shared between the processes of one app (`workflows.activities: 'shared'`). When more
 * than one member is alive, the process driving an instance hands its activities round-robin over the
 * live members, itself included (its own turn runs here as before). A task goes to the other process's
 * work record `wf-work:<member>` (appended under its ETag); each process reads its record every
 * `pollMs`, takes everything in it, runs the tasks (the registered `@Activity`, same idempotency key
 * `<instance>:<step>`) and appends each result to the owner's record; the owner feeds it to the
 * instance exactly like a local result. Results are matched to the steps handed out, so one delivered
 * twice (or after the step ran again) is dropped. A task whose process left the members (killed,
 * paused past its lease) is run again here: activities run at least once.
 */
export class ActivityQueue {
  private readonly pending = new Map<string, Pending>();
  private readonly outbox = new Map<string, WorkItem[]>();
  private flushing?: Promise<void>;
  private flushQueued = false;
  private poller?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private turn = 0;
  private stopped = false;
  /** Counters (logged at stop): tasks handed out, run for others, results dropped as duplicates, tasks run again here. */
  readonly stats = { handedOut: 0, ranForOthers: 0, duplicates: 0, rerun: 0 };

  constructor(
    private readonly state: StateService,
    private readonly storeName: () => string,
    private readonly hooks: ActivityQueueHooks,
    private readonly pollMs: number,
    private readonly logger: SidekickLogger,
  ) {}

  start(): void {
    this.poller = setInterval(() => void this.poll(), this.pollMs);
    this.poller.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    await this.polling?.catch(() => undefined);
    await this.flush();
    this.logger.info({ member: this.hooks.self(), ...this.stats }, 'workflows: shared activities stopped');
  }

  /** Hands the activity to another live process (round-robin, this one included); false: run it here. */
  offer(inst: Instance, action: Scheduled, generation: number): boolean {
    const me = this.hooks.self();
    const live = this.hooks.live();
    if (this.stopped || !me || live.length < 2) return false;
    const member = live[this.turn++ % live.length];
    if (member === undefined || member === me) return false;
    const instanceId = inst.record.instanceId;
    this.pending.set(`${instanceId}:${action.id}`, { inst, action, generation, member });
    this.stats.handedOut++;
    this.post(member, { kind: 'task', instanceId, action, replyTo: me, at: Date.now() });
    return true;
  }

  /** Forgets the instance's handed-out steps (it ended, continued as new, or moved). */
  forget(inst: Instance): void {
    for (const [key, p] of this.pending) if (p.inst === inst) this.pending.delete(key);
  }

  private post(member: string, item: WorkItem): void {
    const list = this.outbox.get(member) ?? [];
    list.push(item);
    this.outbox.set(member, list);
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      void this.flush();
    });
  }

  /** Appends what is waiting in the outbox, one write per process; what failed waits for the next poll. */
  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = (async () => {
      const batches = [...this.outbox.entries()];
      this.outbox.clear();
      await Promise.all(
        batches.map(async ([member, items]) => {
          try {
            await this.append(member, items);
          } catch (err) {
            this.logger.warn({ to: member, items: items.length, err: errorMessage(err) }, 'workflows: handing activity work to another process failed');
            this.retryLater(member, items);
          }
        }),
      );
    })().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Tasks not delivered run here; results are kept for the next poll (for a while). */
  private retryLater(member: string, items: readonly WorkItem[]): void {
    const keep: WorkItem[] = [];
    for (const item of items) {
      if (item.kind === 'task') this.runHere(`${item.instanceId}:${item.action.id}`);
      else if (Date.now() - item.at < KEEP_UNSENT_MS) keep.push(item);
    }
    if (keep.length > 0) this.outbox.set(member, [...keep, ...(this.outbox.get(member) ?? [])]);
  }

  private async append(member: string, items: readonly WorkItem[]): Promise<void> {
    const store = this.storeName();
    for (let attempt = 0; ; attempt++) {
      const found = await this.state.get(store, workKey(member));
      const current = found ? (JSON.parse(found.data.toString('utf8')) as { items: WorkItem[] }).items : [];
      try {
        await this.state.save(store, [
          {
            key: workKey(member),
            value: JSON.stringify({ items: [...current, ...items] }),
            etag: found?.etag,
            options: found ? undefined : { concurrency: 'first-write' },
          },
        ]);
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= MAX_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 20));
      }
    }
  }

  /** Runs again here a step whose process is gone (or could not be reached). */
  private runHere(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    this.stats.rerun++;
    this.logger.info(
      { instanceId: p.inst.record.instanceId, step: p.action.id, gone: p.member },
      'workflows: activity handed to a process that is gone; running it here',
    );
    void this.hooks.run(p.inst.record.instanceId, p.action).then((event) => this.hooks.deliver(p.inst, { event, generation: p.generation }));
  }

  private poll(): Promise<void> {
    const me = this.hooks.self();
    if (this.polling || this.stopped || !me) return this.polling ?? Promise.resolve();
    this.polling = (async () => {
      const live = new Set(this.hooks.live());
      // Alone (as of the last heartbeat) with nothing handed out: no store read (tasks a newcomer sent wait for the next heartbeat).
      if (live.size < 2 && this.pending.size === 0 && this.outbox.size === 0) return;
      if (live.has(me)) for (const [key, p] of this.pending) if (!live.has(p.member)) this.runHere(key);
      if (this.outbox.size > 0) await this.flush();
      const items = await this.take(me);
      for (const item of items) this.handle(item);
    })()
      .catch((err: unknown) => this.logger.warn({ err: errorMessage(err) }, 'workflows: reading the activity work record failed'))
      .finally(() => (this.polling = undefined));
    return this.polling;
  }

  /** Takes every item of this process's work record (empties it under its ETag; on a conflict: next poll). */
  private async take(me: string): Promise<WorkItem[]> {
    const store = this.storeName();
    const found = await this.state.get(store, workKey(me));
    if (!found) return [];
    const items = (JSON.parse(found.data.toString('utf8')) as { items: WorkItem[] }).items;
    if (items.length === 0) return [];
    try {
      await this.state.save(store, [{ key: workKey(me), value: JSON.stringify({ items: [] }), etag: found.etag }]);
    } catch (err) {
      if (isConflict(err)) return [];
      throw err;
    }
    return items;
  }

  private handle(item: WorkItem): void {
    if (item.kind === 'result') {
      const taskId = 'taskId' in item.event ? item.event.taskId : -1;
      const key = `${item.instanceId}:${taskId}`;
      const p = this.pending.get(key);
      if (!p) {
        this.stats.duplicates++; // delivered twice, or the step already ran again here
        return;
      }
      this.pending.delete(key);
      this.hooks.deliver(p.inst, { event: item.event, generation: p.generation });
      return;
    }
    this.stats.ranForOthers++;
    void this.hooks
      .run(item.instanceId, item.action)
      .then((event) => this.post(item.replyTo, { kind: 'result', instanceId: item.instanceId, event, from: this.hooks.self(), at: Date.now() }));
  }
}
