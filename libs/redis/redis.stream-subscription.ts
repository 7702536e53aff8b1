import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type Redis from 'ioredis';
import { errorMessage } from '../../src/errors/sidekick.error';
import type { Clock, TimerHandle } from '../../src/spi/clock';
import type { SidekickLogger } from '../../src/spi/logger';
import type { MessageHandler } from '../../src/spi/pubsub';
import { WorkQueue } from '../../src/spi/work-queue';
import { type Entry, parseEntries, readEntries } from './redis.stream-entries';

export { REDIS_STREAM_ID } from './redis.stream-entries';

/*
 * One subscription of `pubsub.redis` (see redis.pubsub.ts): a consumer of the group, named
 * `<host>-<pid>-<random>`, its XREADGROUP loop on a dedicated connection, its XAUTOCLAIM timer
 * (redelivery) and its touch timer (keeps entries of running handlers from looking abandoned).
 */

const BLOCK_MS = 2000;
/**
 * Longer than any XREADGROUP ... BLOCK may legitimately take: a read still unanswered after one to two
 * of these periods is given up and its connection re-established (see `watch`).
 */
export const BLOCKING_COMMAND_TIMEOUT_MS = BLOCK_MS + 3000;
const RETRY_MS = 1000;
// Deletes the consumer only when it holds no pending entry (deleting it would drop them).
const RELEASE_SCRIPT = `if #redis.call("XPENDING", KEYS[1], ARGV[1], "-", "+", 1, ARGV[2]) == 0 then
  return redis.call("XGROUP", "DELCONSUMER", KEYS[1], ARGV[1], ARGV[2]) end
return -1`;

/** What a subscription shares with its component. */
export interface SubscriptionContext {
  /** The component's connection: XACK, XAUTOCLAIM, XCLAIM, CLIENT UNBLOCK. */
  readonly client: Redis;
  readonly clock: Clock;
  readonly logger: SidekickLogger;
  /** 0 disables redelivery (no XAUTOCLAIM, no touching). */
  readonly processingTimeoutMs: number;
  readonly redeliverIntervalMs: number;
}

/** One subscription: a consumer in the group, its reader loop, its claim and touch timers. */
export class StreamSubscription {
  private readonly consumer = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  /** Fetched and not finished (queued or running), by entry id: the ids of `work`'s items. */
  private readonly held = new Set<string>();
  /** Runs at most `concurrency` handlers; a slot is freed only once the entry's XACK answered. */
  private readonly work: WorkQueue<Entry>;
  private stopping = false;
  private aborted = false;
  private finished = false;
  private blockingId: number | undefined;
  private reader: Promise<void> = Promise.resolve();
  private claiming: Promise<void> = Promise.resolve();
  private claimTimer: TimerHandle | undefined;
  private touchTimer: TimerHandle | undefined;
  private wake: (() => void) | undefined;
  /** Rejects the command in flight on the blocking connection (set while one is out). */
  private giveUp: ((err: Error) => void) | undefined;
  /** Commands sent on the blocking connection so far (the watchdog's progress mark). */
  private sent = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  /** Ids whose handlers succeeded since the last XACK was sent, and the XACK that will carry them. */
  private acks: string[] = [];
  private ackBatch: Promise<void> | undefined;

  constructor(
    private readonly ctx: SubscriptionContext,
    private readonly blocking: Redis,
    private readonly topic: string,
    private readonly group: string,
    concurrency: number,
    private readonly handler: MessageHandler,
    private readonly onClosed: () => void,
  ) {
    this.work = new WorkQueue<Entry>(
      concurrency,
      (entry) => void this.handle(entry),
      () => this.wake?.(),
    );
    blocking.on('close', () => {
      this.blockingId = undefined;
      // ioredis neither resends nor rejects a command lost with its connection (autoResendUnfulfilledCommands
      // is off, so entries are not read twice): give it up here, and the loop reads again once reconnected.
      this.abandonCommand(new Error('the subscriber connection closed'));
    });
  }

  private get redelivers(): boolean {
    return this.ctx.processingTimeoutMs > 0 && this.ctx.redeliverIntervalMs > 0;
  }

  start(): void {
    this.reader = this.readLoop();
    this.watch();
    if (!this.redelivers) return;
    this.runClaim();
    this.scheduleTouch();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  abort(): void {
    this.aborted = this.stopping = true;
    this.clearTimers();
    this.wake?.();
    this.work.abort();
    this.blocking.disconnect();
    this.onClosed();
  }

  private async shutdown(): Promise<void> {
    if (this.aborted) return;
    this.stopping = true;
    if (this.claimTimer) this.ctx.clock.clearTimeout(this.claimTimer); // touching goes on while handlers drain
    await this.stopReader();
    await this.claiming;
    await this.work.drain();
    this.finished = true;
    this.clearTimers();
    if (this.aborted) return;
    try {
      await this.ctx.client.eval(RELEASE_SCRIPT, 1, this.topic, this.group, this.consumer);
    } catch (err) {
      this.ctx.logger.debug({ err, topic: this.topic }, `could not remove consumer ${this.consumer}: ${errorMessage(err)}`);
    }
    await this.blocking.quit().catch(() => this.blocking.disconnect());
    this.onClosed();
  }

  /** Stops fetching: CLIENT UNBLOCK ends a blocked XREADGROUP at once (else it ends within BLOCK_MS). */
  private async stopReader(): Promise<void> {
    let done = false;
    const reader = this.reader.then(() => {
      done = true;
    });
    this.wake?.();
    for (let i = 0; i < BLOCK_MS / 50 && !done; i++) {
      const id = this.blockingId;
      if (id !== undefined && id >= 0) await this.ctx.client.call('CLIENT', 'UNBLOCK', id).catch(() => undefined);
      await Promise.race([reader, this.ctx.clock.sleep(50)]);
    }
    await reader;
  }

  private async readLoop(): Promise<void> {
    while (!this.stopping) {
      const free = this.work.free;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      try {
        // -1 when CLIENT ID is not allowed (ACL): close() then waits up to BLOCK_MS instead of unblocking.
        this.blockingId ??= await this.guarded(this.blocking.call('CLIENT', 'ID')).then(Number, (err: unknown) => {
          if (/NOPERM|unknown command/i.test(errorMessage(err))) return -1;
          throw err;
        });
        if (this.stopping) break;
        // Lower-case command names: ioredis lower-cases the name for every flag lookup (several per command).
        const reply = await this.guarded(
          this.blocking.callBuffer('xreadgroup', 'GROUP', this.group, this.consumer, 'COUNT', free, 'BLOCK', BLOCK_MS, 'STREAMS', this.topic, '>'),
        );
        this.accept(readEntries(reply, this.topic));
      } catch (err) {
        if (this.stopping) break;
        this.blockingId = undefined; // a reconnected connection has a new CLIENT ID
        this.ctx.logger.warn({ err, topic: this.topic }, `redis XREADGROUP on ${this.topic} failed: ${errorMessage(err)}`);
        if (/NOGROUP/.test(errorMessage(err))) await createGroup(this.ctx.client, this.topic, this.group).catch(() => undefined);
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.ctx.clock.setTimeout(resolve, RETRY_MS);
        });
        this.wake = undefined;
      }
    }
  }

  /** A command on the blocking connection that the watchdog or a closed connection can give up on. */
  private guarded<T>(command: Promise<T>): Promise<T> {
    this.sent += 1;
    return new Promise<T>((resolve, reject) => {
      this.giveUp = reject;
      const settled = (): void => {
        if (this.giveUp === reject) this.giveUp = undefined;
      };
      command.then(
        (value) => {
          settled();
          resolve(value);
        },
        (err: unknown) => {
          settled();
          reject(err instanceof Error ? err : new Error(errorMessage(err)));
        },
      );
    });
  }

  private abandonCommand(err: Error): void {
    const giveUp = this.giveUp;
    this.giveUp = undefined;
    giveUp?.(err);
  }

  /**
   * One timer per subscription (not one per read): when the same command has been out on the blocking
   * connection for a whole period, the connection is taken for dead (a half-open socket never closes),
   * the command given up and the connection re-established. Real time, not the injected clock: this is
   * about the network, and a virtual clock's jumps must not break healthy reads.
   */
  private watch(): void {
    let mark = -1;
    const check = (): void => {
      if (this.stopping || this.aborted) return;
      if (this.giveUp && this.sent === mark) {
        this.ctx.logger.warn(
          { topic: this.topic },
          `no answer to XREADGROUP on ${this.topic} within ${BLOCKING_COMMAND_TIMEOUT_MS} ms: reconnecting the subscriber connection`,
        );
        this.abandonCommand(new Error(`no answer within ${BLOCKING_COMMAND_TIMEOUT_MS} ms`));
        this.blocking.disconnect(true);
      }
      mark = this.sent;
      this.watchdog = setTimeout(check, BLOCKING_COMMAND_TIMEOUT_MS).unref();
    };
    check();
  }

  private runClaim(): void {
    this.claiming = this.claim().finally(() => {
      if (!this.stopping) this.claimTimer = this.ctx.clock.setTimeout(() => this.runClaim(), this.ctx.redeliverIntervalMs);
    });
  }

  /** XAUTOCLAIM entries idle longer than processingTimeout (rejected, or held by a dead consumer), up to the free slots. */
  private async claim(): Promise<void> {
    let cursor = '0-0';
    try {
      do {
        const free = this.work.free;
        if (free <= 0 || this.stopping) return;
        const reply = await this.ctx.client.callBuffer(
          'xautoclaim',
          this.topic,
          this.group,
          this.consumer,
          this.ctx.processingTimeoutMs,
          cursor,
          'COUNT',
          free,
        );
        const [next, entries] = Array.isArray(reply) ? reply : [];
        cursor = String(next ?? '0-0');
        const { found, deleted } = parseEntries(entries, this.topic);
        // Entries trimmed away while pending (Redis 6.2 returns them empty): nothing left to deliver.
        if (deleted.length > 0) await this.ctx.client.xack(this.topic, this.group, ...deleted);
        this.accept(found);
      } while (cursor !== '0-0');
    } catch (err) {
      this.ctx.logger.warn({ err, topic: this.topic }, `redis XAUTOCLAIM on ${this.topic} failed: ${errorMessage(err)}`);
    }
  }

  private scheduleTouch(): void {
    if (!this.redelivers || this.aborted || this.finished) return;
    const every = Math.max(10, Math.floor(this.ctx.processingTimeoutMs / 2));
    this.touchTimer = this.ctx.clock.setTimeout(() => {
      const ids = [...this.held];
      const touch = ids.length === 0 ? Promise.resolve() : this.ctx.client.xclaim(this.topic, this.group, this.consumer, 0, ...ids, 'JUSTID');
      void touch
        .catch((err: unknown) => this.ctx.logger.debug({ err, topic: this.topic }, `touching pending entries failed: ${errorMessage(err)}`))
        .finally(() => this.scheduleTouch());
    }, every);
  }

  private clearTimers(): void {
    clearTimeout(this.watchdog);
    if (this.claimTimer) this.ctx.clock.clearTimeout(this.claimTimer);
    if (this.touchTimer) this.ctx.clock.clearTimeout(this.touchTimer);
    this.claimTimer = this.touchTimer = undefined;
  }

  private accept(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (this.held.has(entry.id)) continue; // already being handled here
      this.held.add(entry.id);
      this.work.push(entry);
    }
  }

  /**
   * XACK once per burst: handlers that finish while the current microtasks run (a read returns up
   * to `concurrency` entries, handled together) are acknowledged by one XACK carrying all their
   * ids, sent on the next tick. Each entry is still acknowledged only after its handler succeeded,
   * and its slot is freed only once Redis has answered.
   */
  private ack(id: string): Promise<void> {
    this.acks.push(id);
    this.ackBatch ??= new Promise<void>((resolve, reject) => {
      process.nextTick(() => {
        const ids = this.acks;
        this.acks = [];
        this.ackBatch = undefined;
        this.ctx.client.xack(this.topic, this.group, ...ids).then(() => resolve(), reject);
      });
    });
    return this.ackBatch;
  }

  private async handle(entry: Entry): Promise<void> {
    let handled = false;
    try {
      await this.handler(entry.message);
      handled = true;
    } catch (err) {
      this.ctx.logger.debug({ err, topic: this.topic, id: entry.id }, `handler rejected ${this.topic} ${entry.id}; it stays pending for redelivery`);
    }
    try {
      if (handled && !this.aborted) await this.ack(entry.id);
    } catch (err) {
      this.ctx.logger.warn(
        { err, topic: this.topic, id: entry.id },
        `XACK ${this.topic} ${entry.id} failed (it will be delivered again): ${errorMessage(err)}`,
      );
    }
    this.held.delete(entry.id);
    this.work.done(); // starts a waiting entry or wakes the reader, and ends a drain once nothing is held
  }
}

/**
 * XGROUP CREATE ... 0 MKSTREAM: a new group starts at the beginning of the stream, as daprd does, so
 * messages published before the app first subscribed are delivered too (nothing lost on first
 * deploy); an existing group is kept where it is.
 */
export async function createGroup(client: Redis, topic: string, group: string): Promise<void> {
  try {
    await client.xgroup('CREATE', topic, group, '0', 'MKSTREAM');
  } catch (err) {
    if (!errorMessage(err).startsWith('BUSYGROUP')) throw err;
  }
}
