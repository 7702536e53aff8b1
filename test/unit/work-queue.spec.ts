import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { WorkQueue } from '../../src/spi/work-queue';

/**
 * A queue whose work takes `handleMs` on a virtual clock, then `ackMs` more before its slot is
 * freed (as Redis frees a slot only once the XACK answered). Logs `start <item>@t` and `done <item>@t`.
 */
function timedQueue(concurrency: number, handleMs = 10, ackMs = 0) {
  const clock = new VirtualClock(0);
  const log: string[] = [];
  let frees = 0;
  let peak = 0;
  const queue: WorkQueue<string> = new WorkQueue<string>(
    concurrency,
    (item) => {
      log.push(`start ${item}@${clock.now()}`);
      peak = Math.max(peak, queue.active);
      void clock
        .sleep(handleMs)
        .then(() => clock.sleep(ackMs))
        .then(() => {
          log.push(`done ${item}@${clock.now()}`);
          queue.done();
        });
    },
    () => (frees += 1),
  );
  return { clock, log, queue, frees: () => frees, peak: () => peak };
}

/** Whether a promise has settled yet. */
function settled(promise: Promise<void>): () => boolean {
  let done = false;
  void promise.then(() => (done = true));
  return () => done;
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  it('starts work synchronously while a slot is free, and queues the rest in order', async () => {
    const { clock, log, queue, peak } = timedQueue(2);
    expect(queue.free).toBe(2);
    queue.push('a');
    expect(log).toEqual(['start a@0']); // synchronously, within push
    queue.push('b');
    queue.push('c');
    queue.push('d');
    expect(log).toEqual(['start a@0', 'start b@0']);
    expect({ active: queue.active, size: queue.size, free: queue.free }).toEqual({ active: 2, size: 4, free: 0 });
    await clock.advance(10);
    expect(log).toEqual(['start a@0', 'start b@0', 'done a@10', 'start c@10', 'done b@10', 'start d@10']);
    await clock.advance(10);
    expect(queue.size).toBe(0);
    expect(queue.free).toBe(2);
    expect(peak()).toBe(2);
  });

  it('frees a slot only when done() is called, not when the handler part finished', async () => {
    const { clock, log, queue, frees } = timedQueue(1, 10, 5); // 10 ms handling, then 5 ms until the ack answered
    queue.push('a');
    queue.push('b');
    await clock.advance(14);
    expect(log).toEqual(['start a@0']);
    expect(queue.free).toBe(0);
    expect(frees()).toBe(0);
    await clock.advance(1);
    expect(log).toEqual(['start a@0', 'done a@15', 'start b@15']);
    expect(frees()).toBe(1);
  });

  it('lets a consumer fetch only what it can run: onFree and free drive the fetching', async () => {
    const clock = new VirtualClock(0);
    const source = Array.from({ length: 20 }, (_, i) => i);
    const handled: number[] = [];
    let peak = 0;
    const fetch = (): void => {
      for (let n = queue.free; n > 0 && source.length > 0; n--) queue.push(source.shift() as number);
    };
    const queue: WorkQueue<number> = new WorkQueue<number>(
      3,
      (item) => {
        peak = Math.max(peak, queue.size);
        void clock.sleep(item % 4 === 0 ? 30 : 5).then(() => {
          handled.push(item);
          queue.done();
        });
      },
      fetch,
    );
    fetch();
    expect(source).toHaveLength(17);
    await clock.advance(1000);
    expect(handled.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(3); // never held more than it could run
  });

  it('runs work that finishes synchronously (done() inside work) through a long queue, in order', () => {
    const order: number[] = [];
    const queue: WorkQueue<number> = new WorkQueue<number>(1, (item) => {
      order.push(item);
      if (item > 0) queue.done();
    });
    queue.push(0); // holds the only slot: the others wait
    for (let i = 1; i <= 100_000; i++) queue.push(i);
    expect(queue.size).toBe(100_001);
    queue.done(); // 0 finished: 1..100000 run and finish one after the other, without nesting a call per item
    expect(order).toHaveLength(100_001);
    expect(order.every((v, i) => v === i)).toBe(true);
    expect(queue.size).toBe(0);
  });

  describe('drain', () => {
    it('resolves at once when nothing is in flight', async () => {
      const { queue } = timedQueue(2);
      const drained = settled(queue.drain());
      await flush();
      expect(drained()).toBe(true);
    });

    it('waits for running and queued work, however many wait for it', async () => {
      const { clock, queue } = timedQueue(1);
      queue.push('a');
      queue.push('b');
      const first = queue.drain();
      const second = queue.drain();
      expect(second).toBe(first); // one promise, shared
      const drained = settled(first);
      await clock.advance(10);
      expect(drained()).toBe(false); // b still runs
      await clock.advance(10);
      expect(drained()).toBe(true);
    });

    it('waits for work pushed while draining', async () => {
      const { clock, queue } = timedQueue(2);
      queue.push('a');
      const drained = settled(queue.drain());
      await clock.advance(5);
      queue.push('b');
      await clock.advance(5);
      expect(drained()).toBe(false);
      await clock.advance(5);
      expect(drained()).toBe(true);
    });
  });

  describe('abort', () => {
    it('ends a drain at once, drops waiting items, refuses new ones, and stops signalling free slots', async () => {
      const { clock, log, queue, frees } = timedQueue(1);
      queue.push('a');
      queue.push('b');
      const drained = settled(queue.drain());
      queue.abort();
      await flush();
      expect(drained()).toBe(true);
      expect(queue.aborted).toBe(true);
      expect(queue.free).toBe(0);
      queue.push('c');
      await clock.advance(100);
      expect(log).toEqual(['start a@0', 'done a@10']); // a was running: it ends, and its done() is harmless
      expect(frees()).toBe(0);
      expect(queue.size).toBe(0);
      await expect(queue.drain()).resolves.toBeUndefined();
    });
  });

  it('rejects a done() without an item started, and a concurrency below 1', () => {
    const queue = new WorkQueue<number>(1, () => undefined);
    expect(() => queue.done()).toThrow('WorkQueue.done() called more often than items were started');
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new WorkQueue<number>(bad, () => undefined)).toThrow(RangeError);
  });
});
