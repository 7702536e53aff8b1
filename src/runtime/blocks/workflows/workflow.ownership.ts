import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { errorMessage, SidekickError } from '../../../errors/sidekick.error';
import type { SidekickLogger } from '../../../spi/logger';
import type { StateService } from '../state/state.service';

/** One process in the members record. */
interface Member {
  /** Lease end (epoch ms, real time); 0 once the process left (stopped gracefully). */
  until: number;
  /** Set when another process took (or is taking) this one's instances. */
  adoptedBy?: string;
  /** The adoption finished: the instances and the inbox moved to `adoptedBy`. */
  adopted?: boolean;
  /** Where the process runs (host, boot and PID namespace; Linux only) and its pid: a process seen gone there is adopted at once. */
  machine?: string;
  pid?: number;
}

interface MembersRecord {
  members: Record<string, Member>;
}

const MEMBERS_KEY = 'wf-members';
/** Finished adoptions are kept this long (a paused process that wakes up reads that it lost). */
const KEEP_ADOPTED_MS = 10 * 60_000;

/** What the engine does for the ownership. */
export interface OwnershipHooks {
  /** Takes over the instances of `member` (dead or gone), fencing it out first. */
  adopt(member: string): Promise<void>;
  /** This process lost its instances to another (it was paused past its lease): drop them all. */
  lost(reason: string): void;
  /** Joined (again) as `id`: the writes from now on are this member's. */
  joined(id: string): void;
}

/**
 * Which process drives which workflow instances, when several processes of one app share a state
 * store. Each process is a member of the record `wf-members` with a lease it renews every third of
 * `leaseMs`, under a new member id each time it joins (its epoch); it drives the instances it started
 * (and adopted). A member whose lease passed (killed, paused, cut off) or that left is adopted by a
 * live one: the adopter first writes the member's tombstone (`WorkflowStore.fenceOut`), so a paused
 * process that wakes up cannot write its instances any more (its next transaction fails the fence
 * check, it drops them and joins again under a new id), then moves the instances and their inbox to
 * itself and resumes them from history. The record is written
 * with the store's ETags (compare-and-set). Time is real time: leases are between processes.
 */
export class WorkflowOwnership {
  private memberId = '';
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private stopped = false;
  private rejoin = false;
  private liveCount = 1;
  private liveIds: string[] = [];

  constructor(
    private readonly state: StateService,
    private readonly storeName: () => string,
    readonly leaseMs: number,
    private readonly hooks: OwnershipHooks,
    private readonly logger: SidekickLogger,
  ) {}

  get id(): string {
    return this.memberId;
  }

  /** Live members at the last heartbeat (this one included). */
  get members(): number {
    return this.liveCount;
  }

  /** The members alive at the last heartbeat (lease running, not adopted, not seen gone on this machine), this one included. */
  get live(): readonly string[] {
    return this.liveIds;
  }

  /** Joins and adopts the instances of members that are gone; then renews every `leaseMs / 3`. */
  async start(): Promise<void> {
    await this.join();
    await this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  /** Leaves the record (the lease ends at once, so another process adopts the instances at its next heartbeat). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.beating?.catch(() => undefined);
    await this.update((rec) => {
      const me = rec.members[this.memberId];
      if (me && !me.adoptedBy) me.until = 0;
    }).catch((err: unknown) =>
      this.logger.warn({ err: errorMessage(err) }, 'leaving the workflow members record failed; another process adopts the instances when the lease ends'),
    );
  }

  /** Marks this process lost (a write failed its fence check): it joins again under a new id at the next heartbeat. */
  markLost(reason: string): void {
    if (this.rejoin || this.stopped) return;
    this.rejoin = true;
    this.logger.warn({ member: this.memberId, reason }, 'workflows: this process lost its instances to another; dropping them and joining again');
    this.hooks.lost(reason);
    const current = this.beating ?? Promise.resolve();
    void current.then(() => this.heartbeat()); // joins again at once (after a heartbeat under way)
  }

  /** Renews the lease and adopts the members that are gone (one heartbeat at a time). */
  heartbeat(): Promise<void> {
    if (this.beating) return this.beating;
    this.beating = this.beat().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async join(): Promise<void> {
    const id = randomUUID();
    await this.update((rec) => {
      rec.members[id] = { until: Date.now() + this.leaseMs, machine: MACHINE, pid: process.pid };
    });
    this.memberId = id;
    this.rejoin = false;
    this.hooks.joined(id);
    this.logger.info({ member: id, leaseMs: this.leaseMs }, 'workflows: joined the members record');
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.rejoin) await this.join();
      let lost: string | undefined;
      const adoptable: string[] = [];
      await this.update((rec) => {
        lost = undefined;
        adoptable.length = 0;
        const now = Date.now();
        const me = rec.members[this.memberId];
        if (!me) lost = 'this process is no longer in the members record';
        else if (me.adoptedBy) lost = `process ${me.adoptedBy} adopted this one's instances (its lease had passed)`;
        else me.until = now + this.leaseMs;
        if (lost) return;
        let live = 0;
        const ids: string[] = [];
        for (const [id, m] of Object.entries(rec.members)) {
          if (m.until > now) live++;
          if (m.until > now && !m.adoptedBy && (id === this.memberId || !goneHere(m))) ids.push(id);
          if (m.adopted && m.until < now - KEEP_ADOPTED_MS) delete rec.members[id];
          else if (id !== this.memberId && (m.until <= now || goneHere(m)) && this.canAdopt(rec, m, now)) {
            m.adoptedBy = this.memberId;
            m.adopted = false;
            adoptable.push(id);
          }
        }
        this.liveCount = live;
        this.liveIds = ids;
      });
      if (lost) {
        this.markLost(lost);
        return;
      }
      for (const dead of adoptable) {
        this.logger.info({ member: this.memberId, adopting: dead }, 'workflows: adopting the instances of a process whose lease passed');
        await this.hooks.adopt(dead);
        await this.update((rec) => {
          const m = rec.members[dead];
          if (m && m.adoptedBy === this.memberId) m.adopted = true;
        });
      }
    } catch (err) {
      if (err instanceof SidekickError && err.code === 'ERR_STATE_FENCING_TOKEN_STALE')
        this.markLost(err.message); // fenced out itself
      else this.logger.warn({ err: errorMessage(err) }, 'workflows: membership heartbeat failed');
    }
  }

  /** Not adopted yet, or an adoption not finished: one of this process's that failed (heartbeats run one at a time), or its adopter's, gone too. */
  private canAdopt(rec: MembersRecord, m: Member, now: number): boolean {
    if (m.adopted) return false;
    if (!m.adoptedBy || m.adoptedBy === this.memberId) return true;
    const adopter = rec.members[m.adoptedBy];
    return !adopter || adopter.adoptedBy !== undefined || adopter.until <= now;
  }

  /** Read, change, write under the record's ETag; again on a conflict. */
  private async update(change: (rec: MembersRecord) => void): Promise<void> {
    const store = this.storeName();
    for (let attempt = 0; ; attempt++) {
      const found = await this.state.get(store, MEMBERS_KEY);
      const rec: MembersRecord = found ? (JSON.parse(found.data.toString('utf8')) as MembersRecord) : { members: {} };
      change(rec);
      try {
        await this.state.save(store, [
          { key: MEMBERS_KEY, value: JSON.stringify(rec), etag: found?.etag, options: found ? undefined : { concurrency: 'first-write' } },
        ]);
        return;
      } catch (err) {
        const conflict = err instanceof SidekickError && (err.code === 'ERR_ETAG_MISMATCH' || err.code === 'ERR_ETAG_INVALID');
        if (!conflict || attempt >= 30) throw err;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 25));
      }
    }
  }
}

/** This machine and PID namespace (pids are comparable only within one), or undefined off Linux. */
const MACHINE = ((): string | undefined => {
  if (process.platform !== 'linux') return undefined;
  try {
    return `${hostname()}/${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return undefined; // no /proc: leases alone decide
  }
})();

/** A member on this machine whose process no longer exists (killed, crashed): no need to wait for its lease. */
function goneHere(m: Member): boolean {
  if (MACHINE === undefined || m.machine !== MACHINE || m.pid === undefined || m.pid === process.pid) return false;
  try {
    process.kill(m.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
