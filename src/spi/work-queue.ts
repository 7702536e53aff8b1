/** What {@link WorkQueue.drain} returns when nothing is in flight (one shared promise). */
const IDLE: Promise<void> = Promise.resolve();

/**
 * Bounded concurrency for a consumer: at most `concurrency` items are worked on at once, more wait
 * in arrival order. The queue does not await the work: `work(item)` starts it, and the consumer
 * calls {@link done} once the item is finished, which may be later than its handler (Redis frees a
 * slot only after the XACK answered). Nothing is allocated per item, so synchronous handlers stay
 * synchronous and a tuned hot path stays as it is.
 *
 * A consumer fetches only {@link free} items (so it never holds more than it can run), hears of a
 * freed slot through `onFree`, waits for in-flight work on close with {@link drain}, and gives up
 * on it with {@link abort}.
 */
export class WorkQueue<T> {
  private readonly waiting: T[] = [];
  private running = 0;
  private stopped = false;
  /** Set while done() starts waiting items. */
  private starting = false;
  private idle: Promise<void> | undefined;
  private settleIdle: (() => void) | undefined;

  /**
   * @param work starts one item; it must not throw, and `done()` must be called exactly once per item.
   * @param onFree called after items are done (their slots free, or taken by waiting items): once per
   *   `done()` from outside `work`; not after {@link abort}.
   */
  constructor(
    readonly concurrency: number,
    private readonly work: (item: T) => void,
    private readonly onFree?: () => void,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a whole number of at least 1, not ${concurrency}`);
  }

  /** Items being worked on. */
  get active(): number {
    return this.running;
  }

  /** Items taken and not done: being worked on, or waiting for a slot. */
  get size(): number {
    return this.running + this.waiting.length;
  }

  /** How many more items can be taken now without waiting (0 after {@link abort}): what a consumer should fetch. */
  get free(): number {
    return this.stopped ? 0 : Math.max(0, this.concurrency - this.size);
  }

  get aborted(): boolean {
    return this.stopped;
  }

  /** Starts the item at once when a slot is free, else queues it. Ignored after {@link abort}. */
  push(item: T): void {
    if (this.stopped) return;
    if (this.running < this.concurrency && this.waiting.length === 0) {
      this.running += 1;
      this.work(item);
    } else {
      this.waiting.push(item);
    }
  }

  /** One item is finished: its slot goes to the next waiting item, or becomes free. */
  done(): void {
    if (this.running <= 0) throw new Error('WorkQueue.done() called more often than items were started');
    this.running -= 1;
    // Work that finishes synchronously calls done() from inside work(): the loop below goes on with
    // the next item instead of nesting a call per item.
    if (this.starting) return;
    this.starting = true;
    try {
      while (this.running < this.concurrency && this.waiting.length > 0 && !this.stopped) {
        this.running += 1;
        this.work(this.waiting.shift() as T);
      }
    } finally {
      this.starting = false;
    }
    if (this.size === 0) this.resolveIdle();
    if (!this.stopped) this.onFree?.();
  }

  /** Resolves once nothing is in flight or waiting (at once when idle), or on {@link abort}. */
  drain(): Promise<void> {
    if (this.size === 0 || this.stopped) return IDLE;
    this.idle ??= new Promise<void>((resolve) => (this.settleIdle = resolve));
    return this.idle;
  }

  /**
   * Gives up on the work: waiting items are dropped (never started), {@link drain} resolves at once,
   * nothing more is taken. Items already started still call `done()`, which is then harmless.
   */
  abort(): void {
    this.stopped = true;
    this.waiting.length = 0;
    this.resolveIdle();
  }

  private resolveIdle(): void {
    const settle = this.settleIdle;
    this.idle = this.settleIdle = undefined;
    settle?.();
  }
}
