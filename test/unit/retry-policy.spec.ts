import { RetryPolicy } from '../../src/runtime/resiliency/retry.policy';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';

/** The first `n` delays of a fresh sequence. */
const take = (policy: RetryPolicy, n: number): number[] => {
  const next = policy.delays();
  return Array.from({ length: n }, () => next());
};

describe('RetryPolicy', () => {
  afterEach(() => jest.restoreAllMocks());

  it('defaults to 3 retries', () => {
    expect(new RetryPolicy(new VirtualClock()).maxRetries).toBe(3);
    expect(new RetryPolicy(new VirtualClock(), { maxRetries: 0 }).maxRetries).toBe(0);
  });

  it('backs off exponentially (decorrelated jitter) from initialDelayMs, capped at maxDelayMs', () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.5); // the median of the jitter
    const delays = take(new RetryPolicy(new VirtualClock(), { initialDelayMs: 200, maxDelayMs: 5000 }), 10);
    // Median growth is about x2 per retry from around initialDelayMs, until the cap.
    expect(delays[0]).toBeGreaterThan(100);
    expect(delays[0]).toBeLessThan(400);
    for (let i = 1; i < 6; i++) {
      const ratio = (delays[i] ?? 0) / (delays[i - 1] ?? 1);
      expect(ratio).toBeGreaterThan(1.1);
      expect(ratio).toBeLessThan(2.5);
    }
    expect(delays.slice(6)).toEqual([5000, 5000, 5000, 5000]);
  });

  it('never waits longer than maxDelayMs nor less than 0, whatever the jitter', () => {
    for (const r of [0, 0.01, 0.5, 0.99, 0.999999]) {
      jest.spyOn(Math, 'random').mockReturnValue(r);
      for (const d of take(new RetryPolicy(new VirtualClock(), { initialDelayMs: 10, maxDelayMs: 300 }), 30)) {
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(300);
      }
    }
  });

  it('gives each message a fresh sequence', () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const policy = new RetryPolicy(new VirtualClock(), { initialDelayMs: 100, maxDelayMs: 100_000 });
    const first = policy.delays();
    const a = [first(), first(), first()];
    const second = policy.delays();
    expect(second()).toBe(a[0]);
    expect(first()).toBeGreaterThan(a[2] ?? Infinity);
  });

  it('sleeps on the injected clock', async () => {
    const clock = new VirtualClock(0);
    const policy = new RetryPolicy(clock);
    let woke = false;
    void policy.sleep(250).then(() => (woke = true));
    await clock.advance(249);
    expect(woke).toBe(false);
    await clock.advance(1);
    expect(woke).toBe(true);
  });
});
