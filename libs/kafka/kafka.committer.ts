import type { EachBatchPayload } from 'kafkajs';
import { errorMessage } from '../../src/errors/sidekick.error';
import { withDeadline } from '../../src/spi/clock';
import type { SidekickLogger } from '../../src/spi/logger';

/** Handled records of one partition not yet committed, at most: its lane waits for a commit beyond this (the crash-redelivery bound). */
export const COMMIT_EVERY = 100;

/** Longest one OffsetCommit is waited for (twice kafkajs's request timeout); then it counts as failed. */
export const COMMIT_DEADLINE_MS = 30_000;

/** One partition's handled offset waiting to be committed. */
interface Mark {
  readonly topic: string;
  readonly partition: number;
  /** The last handled offset. */
  offset: bigint;
  /** Handled records this mark covers. */
  count: number;
  /** Still this member's, in the kafkajs run it was fetched in (checked again right before committing). */
  owned: () => boolean;
  /** The kafkajs batch of that run, whose commit function sends the OffsetCommit. */
  via: EachBatchPayload;
}

/**
 * Commits a consumer's handled offsets in the background, so a partition's next record never waits
 * for the commit of the one before it. Kafka 4.x holds every OffsetCommit for
 * `group.coordinator.append.linger.ms` (5 ms by default), and a connection's requests are handled one
 * at a time: awaiting a commit per record or per fetched batch capped one-at-a-time delivery at
 * ~6 ms per event (bench/RESULTS.md). At most one OffsetCommit is in flight; it carries the latest
 * handled offset of every partition marked meanwhile, so the commit rate adapts to the load.
 *
 * At-least-once: only offsets whose handlers resolved are marked; a partition's lane waits in
 * {@link room} when it has {@link COMMIT_EVERY} handled records not yet committed, so a crash
 * redelivers at most that many per partition.
 */
export class OffsetCommitter {
  private marks = new Map<string, Mark>();
  /** Records per partition in the OffsetCommit in flight. */
  private sending = new Map<string, number>();
  private running: Promise<void> = Promise.resolve();
  /** The commit loop runs (set and cleared synchronously by the loop, see kick()). */
  private looping = false;
  private stopped = false;
  /** Woken when a commit finished (lanes waiting for room). */
  private waiters: (() => void)[] = [];

  constructor(
    private readonly logger: SidekickLogger,
    private readonly label: string,
  ) {}

  /** Records that the handler of `offset` (and every earlier record of the partition) resolved. */
  mark(key: string, topic: string, partition: number, offset: string, via: EachBatchPayload, owned: () => boolean): void {
    if (this.stopped) return;
    const mark = this.marks.get(key);
    if (mark) {
      mark.offset = BigInt(offset);
      mark.count += 1;
      mark.owned = owned;
      mark.via = via;
    } else {
      this.marks.set(key, { topic, partition, offset: BigInt(offset), count: 1, owned, via });
    }
    this.kick();
  }

  /** Handled records of the partition not committed yet. */
  outstanding(key: string): number {
    return (this.marks.get(key)?.count ?? 0) + (this.sending.get(key) ?? 0);
  }

  /** Resolves when the partition has fewer than COMMIT_EVERY handled records not committed (at once, mostly). */
  async room(key: string): Promise<void> {
    while (!this.stopped && this.outstanding(key) >= COMMIT_EVERY) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once everything marked so far was committed (or its commit failed and was logged). */
  async flush(): Promise<void> {
    while (this.looping) await this.running;
  }

  /** Forgets what was not committed yet and commits nothing more (abort: as a dying process). */
  stop(): void {
    this.stopped = true;
    this.marks.clear();
    this.wake();
  }

  /** Drops the marks of partitions this member no longer owns (a rebalance; their next owner starts at the committed offset). */
  forget(keep: (key: string) => boolean): void {
    for (const key of [...this.marks.keys()]) if (!keep(key)) this.marks.delete(key);
    // Nor is a lane of the new assignment (or of a restarted consumer) held back by a commit of the old one.
    for (const key of [...this.sending.keys()]) if (!keep(key)) this.sending.delete(key);
    this.wake();
  }

  /**
   * Starts the commit loop unless it runs. `looping` is set and cleared by the loop itself, in the same
   * synchronous steps in which it starts and finds no marks left: clearing it in a callback of the
   * loop's promise (a microtask later) left a window in which a new mark found the loop "running",
   * started nothing, and stayed uncommitted until the next mark, or for good when its lane then
   * waited in room() for that very commit.
   */
  private kick(): void {
    if (this.looping) return;
    this.running = this.run();
  }

  private async run(): Promise<void> {
    this.looping = true;
    try {
      // Marks made while a commit is in flight go together in the next one.
      while (this.marks.size > 0 && !this.stopped) {
        const marks = [...this.marks.entries()].filter(([, mark]) => mark.owned());
        this.marks = new Map();
        const first = marks[0]?.[1];
        if (!first) continue;
        this.sending = new Map(marks.map(([key, mark]) => [key, mark.count]));
        await this.commit(
          first.via,
          marks.map(([, mark]) => mark),
        );
        this.sending = new Map();
        this.wake();
      }
    } finally {
      this.looping = false;
      this.sending = new Map();
      this.wake();
    }
  }

  private async commit(via: EachBatchPayload, marks: readonly Mark[]): Promise<void> {
    const topics = new Map<string, { partition: number; offset: string }[]>();
    for (const mark of marks) {
      const partitions = topics.get(mark.topic) ?? [];
      partitions.push({ partition: mark.partition, offset: (mark.offset + 1n).toString() });
      topics.set(mark.topic, partitions);
    }
    const request = { topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) };
    try {
      // Through a batch payload of the current run: consumer.commitOffsets() is a no-op once kafkajs stops.
      // Bounded: a commit of a run kafkajs has since torn down (a crash) must not hold every later commit.
      await withDeadline(COMMIT_DEADLINE_MS, () => via.commitOffsetsIfNecessary(request));
    } catch (err) {
      // A rebalance under way: whoever owns the partitions next handles those records again.
      this.logger.warn({ err, offsets: request.topics }, `kafka ${this.label}: committing failed (${errorMessage(err)}); records may be delivered again`);
    }
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
