import { randomUUID } from 'node:crypto';
import { SidekickError, errorMessage } from '../../../errors/sidekick.error';
import type { SidekickLogger } from '../../../spi/logger';
import type { ActorStore } from './actor-store';

interface Member {
  readonly address: string;
  readonly leaseUntil: number;
  /** Set by a member shutting down: it owns no new ids but keeps its lease (and its actors' owner records) until it has released them. */
  readonly leaving?: boolean;
}

/**
 * Placement of actors across the instances of one app id, as Orleans does with its membership table:
 * one record in the actor state store (`actors||<appId>||members`) lists the instances with their
 * leases, written with the store's etags (compare-and-set). Each instance renews its lease every
 * `leaseMs / 3`; an instance whose lease passed is no longer a member. An actor id belongs to the live
 * member with the highest hash of (member, type, id) (rendezvous hashing: consistent, only the ids of a
 * member that leaves or joins move). Time here is real time: leases are between processes.
 */
export class ActorPlacement {
  readonly instanceId: string = randomUUID();
  private live: string[] = [];
  private readonly addresses = new Map<string, string>();
  private readonly leases = new Map<string, number>();
  private readonly leavingMembers = new Set<string>();
  private ownLeaseUntil = 0;
  private leaving = false;
  /** A moment after the table first said this member is leaving (or gone): peers that read it since route nothing here. */
  private leftAt?: number;
  /** Bumped each time this instance's own lease lapsed (a paused process): activations of an older epoch are void. */
  private leaseEpoch = 0;
  private timer?: NodeJS.Timeout;
  private paused = false;
  private stopped = false;
  private beating?: Promise<void>;

  constructor(
    private readonly store: ActorStore,
    private readonly leaseMs: number,
    private readonly address: () => string | undefined,
    private readonly logger: SidekickLogger,
    private readonly onChange: () => void,
    /** After each heartbeat: actors this instance no longer owns are moved (cheap: no store access). */
    private readonly onBeat: () => void = () => undefined,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.heartbeat(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
    void this.heartbeat();
  }

  /**
   * First step of a graceful leave: marks this member leaving, so every instance (this one included)
   * routes its ids elsewhere while it still holds its lease; the runtime then deactivates its actors,
   * releasing their owner records, and {@link stop} removes it from the table.
   */
  async beginLeaving(): Promise<void> {
    if (this.leaving || this.stopped) return;
    this.leaving = true;
    await this.beating?.catch(() => undefined);
    await this.update((members) => {
      const me = members.get(this.instanceId);
      if (me) members.set(this.instanceId, { ...me, leaving: true });
    })
      .then(() => (this.leftAt ??= Date.now()))
      .catch((err: unknown) => this.logger.warn({ err: errorMessage(err) }, 'marking this instance leaving in the actor membership table failed'));
  }

  /** Leaves the table (the others see it at once rather than after the lease). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.beating?.catch(() => undefined);
    await this.update((members) => members.delete(this.instanceId))
      .then(() => (this.leftAt ??= Date.now()))
      .catch((err: unknown) =>
        this.logger.warn({ err: errorMessage(err) }, 'leaving the actor membership table failed; the others drop this instance when its lease ends'),
      );
  }

  /**
   * Last step of a graceful leave, before the HTTP API closes: waits until every other live member has
   * renewed its lease since the table said this one is leaving. A renewal reads the table first, so that
   * member routes nothing here any more, and closing the API's keep-alive connections then cuts no
   * forwarded call a peer was sending on one (the peer would see "other side closed" and could not know
   * whether the call ran). Bounded by `deadlineAt` and by one lease: a member that does not renew within a
   * lease (killed, paused) has lost its lease, and a peer that never read the leaving mark has dropped
   * this instance when its lease ended. Returns how long it waited.
   */
  async awaitPeersLetGo(deadlineAt: number): Promise<number> {
    const started = Date.now();
    const until = Math.min(deadlineAt, (this.leftAt ?? started) + this.leaseMs);
    let peers = false;
    for (;;) {
      const live = await this.livePeers().catch((err: unknown) => {
        this.logger.warn({ err: errorMessage(err) }, 'reading the actor membership table while leaving failed');
        return undefined;
      });
      peers ||= live === undefined || live.size > 0;
      const since = this.leftAt;
      const pending = live ? [...live].filter(([, m]) => since === undefined || m.leaseUntil - this.leaseMs <= since).map(([id]) => id) : ['(unknown)'];
      if (pending.length === 0) break;
      if (Date.now() >= until) {
        this.logger.warn({ pending }, 'leaving: these members may still route actor calls here (no lease renewal seen in time)');
        break;
      }
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, until - Date.now()))));
    }
    // A peer adopts the table when its write returns, a moment after the write shows in the store.
    if (peers) await new Promise((r) => setTimeout(r, Math.min(ADOPT_MARGIN_MS, Math.max(0, deadlineAt - Date.now()))));
    return Date.now() - started;
  }

  /** The other members holding a lease now, as the store has them (not this instance's view). */
  private async livePeers(): Promise<Map<string, Member>> {
    const found = await this.store.getEntry(this.store.membersKey());
    const members = found ? (JSON.parse(found.data.toString('utf8')) as Record<string, Member>) : {};
    const now = Date.now();
    return new Map(Object.entries(members).filter(([id, m]) => id !== this.instanceId && m.leaseUntil > now));
  }

  /** Stops renewing the lease (tests: what a paused process looks like to the others). */
  pauseHeartbeats(paused: boolean): void {
    this.paused = paused;
  }

  /** True once this instance began leaving: it owns nothing (new) any more, here or in the others' view. */
  get isLeaving(): boolean {
    return this.leaving;
  }

  /** True once this instance holds a lease. */
  get joined(): boolean {
    return this.ownLeaseUntil > Date.now();
  }

  members(): readonly string[] {
    return this.live;
  }

  /** The current lease epoch (an activation remembers the one it was claimed in). */
  get epoch(): number {
    return this.leaseEpoch;
  }

  /**
   * The hot-path check before each turn of an active actor: this instance still holds its lease, and
   * has not lost it since `epoch` (no store round trip; the owner record was confirmed at activation).
   */
  holds(epoch: number | undefined): boolean {
    return epoch === this.leaseEpoch && this.ownLeaseUntil > Date.now();
  }

  /** Renews the lease first when it is not held (a new instance, or one whose heartbeat fell behind). */
  async ensureLease(): Promise<boolean> {
    if (this.ownLeaseUntil > Date.now()) return true;
    await this.heartbeat();
    return this.ownLeaseUntil > Date.now();
  }

  /**
   * Whether `instance` holds a lease right now, read from the store (not this instance's view): an owner
   * record of a live instance is never taken over; one of an instance whose lease passed may be.
   */
  async memberAlive(instance: string): Promise<boolean> {
    if (instance === this.instanceId) return true;
    const found = await this.store.getEntry(this.store.membersKey());
    const members = found ? (JSON.parse(found.data.toString('utf8')) as Record<string, Member>) : {};
    return (members[instance]?.leaseUntil ?? 0) > Date.now();
  }

  /** The instance that owns actor `type`/`id`; this one while it knows no members (not joined yet). */
  ownerOf(type: string, id: string): string {
    const now = Date.now();
    let best = this.instanceId;
    let bestScore = -1;
    for (const member of this.live) {
      // A leaving member owns nothing new; one whose lease passed since the last read owns nothing (ours included: a paused process).
      if (this.leavingMembers.has(member) || (member === this.instanceId && this.leaving)) continue;
      if ((member === this.instanceId ? this.ownLeaseUntil : (this.leases.get(member) ?? 0)) <= now) continue;
      const score = hash(`${member}|${type}|${id}`);
      if (score > bestScore || (score === bestScore && member > best)) {
        best = member;
        bestScore = score;
      }
    }
    return best;
  }

  isLocal(type: string, id: string): boolean {
    return this.ownerOf(type, id) === this.instanceId;
  }

  addressOf(instance: string): string | undefined {
    return this.addresses.get(instance);
  }

  /** Renews this instance's lease and reads the others' (also called to refresh the view before a retry). */
  heartbeat(): Promise<void> {
    if (this.beating) return this.beating;
    this.beating = this.beat().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async beat(): Promise<void> {
    const address = this.address();
    if (this.stopped || !address) return;
    try {
      const until = Date.now() + this.leaseMs;
      await this.update((members) => {
        if (!this.paused) members.set(this.instanceId, this.leaving ? { address, leaseUntil: until, leaving: true } : { address, leaseUntil: until });
      });
      if (!this.paused) {
        // The lease lapsed before this renewal (a paused process, a stalled heartbeat): another instance may
        // have taken over any of its actors, so every activation of the old epoch is void.
        if (this.ownLeaseUntil !== 0 && this.ownLeaseUntil <= Date.now()) this.leaseEpoch++;
        this.ownLeaseUntil = until;
      }
      this.onBeat();
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'actor membership heartbeat failed');
    }
  }

  /** Read, change, write under the record's etag; again on a conflict. Refreshes the view. */
  private async update(change: (members: Map<string, Member>) => void): Promise<void> {
    const key = this.store.membersKey();
    for (let attempt = 0; ; attempt++) {
      const found = await this.store.getEntry(key);
      const members = new Map<string, Member>(Object.entries(found ? (JSON.parse(found.data.toString('utf8')) as Record<string, Member>) : {}));
      const now = Date.now();
      for (const [id, m] of members) if (m.leaseUntil < now - this.leaseMs) members.delete(id); // long gone
      change(members);
      try {
        await this.store.setEntry(key, JSON.stringify(Object.fromEntries(members)), found?.etag);
        this.adopt(members);
        return;
      } catch (err) {
        const conflict = err instanceof SidekickError && (err.code === 'ERR_ETAG_MISMATCH' || err.code === 'ERR_ETAG_INVALID');
        if (!conflict || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      }
    }
  }

  private adopt(members: Map<string, Member>): void {
    const now = Date.now();
    const live = [...members]
      .filter(([, m]) => m.leaseUntil > now)
      .map(([id]) => id)
      .sort();
    const leaving = [...members].filter(([, m]) => m.leaving === true).map(([id]) => id);
    const leavingChanged = leaving.length !== this.leavingMembers.size || leaving.some((id) => !this.leavingMembers.has(id));
    this.leavingMembers.clear();
    for (const id of leaving) this.leavingMembers.add(id);
    for (const [id, m] of members) {
      this.addresses.set(id, m.address);
      this.leases.set(id, m.leaseUntil);
    }
    const changed = leavingChanged || live.length !== this.live.length || live.some((id, i) => id !== this.live[i]);
    this.live = live;
    if (changed) {
      this.logger.info({ instance: this.instanceId, members: live.length }, 'actor placement: membership changed');
      this.onChange();
    }
  }
}

/** Time left to a peer between its table write showing in the store and its view adopting it. */
const ADOPT_MARGIN_MS = 100;

/** FNV-1a, 32 bits, then a final mix: spread enough for placing ids. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
