import { withTimeout } from '../../src/spi/clock';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';

/** A promise and its settle functions. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (err: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

describe('withTimeout', () => {
  it('returns the result when it comes first, and clears its timer', async () => {
    const clock = new VirtualClock(0);
    const work = deferred<string>();
    const result = withTimeout(clock, 100, () => work.promise);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(99);
    work.resolve('done');
    await expect(result).resolves.toBe('done');
    expect(clock.pendingTimers).toBe(0);
  });

  it('passes the work’s own error through, and clears its timer', async () => {
    const clock = new VirtualClock(0);
    const work = deferred<string>();
    const result = withTimeout(clock, 100, () => work.promise);
    work.reject(new Error('refused'));
    await expect(result).rejects.toThrow('refused');
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects when the deadline passes first, with the default message', async () => {
    const clock = new VirtualClock(0);
    const result = withTimeout(clock, 100, () => new Promise<never>(() => undefined));
    let settled = false;
    result.catch(() => undefined).finally(() => (settled = true));
    await clock.advance(99);
    expect(settled).toBe(false);
    const rejected = expect(result).rejects.toThrow('no answer within 100 ms');
    await clock.advance(1);
    await rejected;
    expect(settled).toBe(true);
  });

  it('rejects with the error of onTimeout, made only when the deadline passes', async () => {
    const clock = new VirtualClock(0);
    const onTimeout = jest.fn(() => new Error('redis did not answer'));
    const late = deferred<number>();
    const result = withTimeout(clock, 50, () => late.promise, onTimeout);
    const rejected = expect(result).rejects.toThrow('redis did not answer');
    expect(onTimeout).not.toHaveBeenCalled();
    await clock.advance(50);
    await rejected;
    late.resolve(1); // the work finishing afterwards changes nothing
    await expect(result).rejects.toThrow('redis did not answer');
    expect(onTimeout).toHaveBeenCalledTimes(1);
  });

  it('turns a synchronous throw of fn into a rejection and clears its timer', async () => {
    const clock = new VirtualClock(0);
    await expect(
      withTimeout(clock, 100, () => {
        throw new Error('bad call');
      }),
    ).rejects.toThrow('bad call');
    expect(clock.pendingTimers).toBe(0);
  });
});
