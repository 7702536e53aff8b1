import { ExponentialBackoff, noJitterGenerator } from 'cockatiel';
import { ConsumerRestarts, RESTART_INITIAL_DELAY_MS, RESTART_MAX_DELAY_MS } from '../../libs/kafka/kafka.restarts';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { captureLogs } from '../support/logger';

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A restart function the test answers: each call waits for `succeed()` or `fail()`. */
function manualRestarts() {
  const calls: { succeed: () => void; fail: (err: Error) => void }[] = [];
  const restart = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      calls.push({ succeed: resolve, fail: reject });
    });
  return { calls, restart };
}

function setup(backoff = new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000, generator: noJitterGenerator })) {
  const clock = new VirtualClock();
  const logs = captureLogs();
  const { calls, restart } = manualRestarts();
  const restarts = new ConsumerRestarts({ clock, logger: logs, label: 'pub/sub, group g', restart, backoff });
  return { clock, logs, calls, restarts };
}

describe('kafka ConsumerRestarts (re-creating a consumer kafkajs gave up on)', () => {
  it('schedules attempt 1 after the first backoff, logs the reason, and is healthy again once it succeeds', async () => {
    const { clock, logs, calls, restarts } = setup();
    expect(restarts.status).toBeUndefined();
    restarts.gaveUp(new Error('INVALID_SESSION_TIMEOUT'));
    expect(restarts.status).toMatchObject({ attempt: 1, reason: expect.stringContaining('INVALID_SESSION_TIMEOUT') });
    expect(logs.find({ level: 'error', text: 're-creating it, attempt 1 in 100 ms' })).toHaveLength(1);
    await clock.advance(99);
    expect(calls).toHaveLength(0);
    await clock.advance(1);
    expect(calls).toHaveLength(1);
    calls[0]?.succeed();
    await flush();
    expect(restarts.status).toBeUndefined();
    expect(
      logs.find({ level: 'warn', text: 'consumer re-created (attempt 1; it had stopped: kafkajs gave up on the consumer: INVALID_SESSION_TIMEOUT)' }),
    ).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('failed attempts back off exponentially up to the cap, each logged with its number and why the last one failed', async () => {
    const { clock, logs, calls, restarts } = setup();
    restarts.gaveUp(new Error('gone'));
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      const status = restarts.status;
      expect(status?.attempt).toBe(attempt);
      delays.push((status?.at ?? 0) - clock.now());
      await clock.advance((status?.at ?? 0) - clock.now());
      expect(calls).toHaveLength(attempt);
      calls[attempt - 1]?.fail(new Error(`broker says no ${attempt}`));
      await flush();
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(restarts.status).toMatchObject({ attempt: 7, reason: 'attempt 6 failed: broker says no 6' });
    expect(logs.find({ level: 'error', text: 'attempt 6 failed: broker says no 6); re-creating it, attempt 7 in 1000 ms' })).toHaveLength(1);
    // Attempt 7 succeeds: the next give-up starts from the first delay again.
    await clock.advance(1000);
    calls[6]?.succeed();
    await flush();
    expect(restarts.status).toBeUndefined();
    restarts.gaveUp(new Error('again'));
    expect(restarts.status).toMatchObject({ attempt: 1 });
    expect((restarts.status?.at ?? 0) - clock.now()).toBe(100);
  });

  it('the default backoff starts near 500 ms and never waits more than 30 s', async () => {
    const clock = new VirtualClock();
    const { calls, restart } = manualRestarts();
    const restarts = new ConsumerRestarts({ clock, logger: captureLogs(), label: 'g', restart });
    restarts.gaveUp(new Error('x'));
    const first = (restarts.status?.at ?? 0) - clock.now();
    expect(first).toBeGreaterThanOrEqual(RESTART_INITIAL_DELAY_MS / 2);
    expect(first).toBeLessThanOrEqual(RESTART_INITIAL_DELAY_MS);
    for (let i = 0; i < 15; i++) {
      const wait = (restarts.status?.at ?? 0) - clock.now();
      expect(wait).toBeLessThanOrEqual(RESTART_MAX_DELAY_MS);
      await clock.advance(wait);
      calls[i]?.fail(new Error('still down'));
      await flush();
    }
    restarts.stop();
  });

  it('a second give-up while an attempt is pending changes nothing; one during an attempt makes the next attempt run', async () => {
    const { clock, calls, restarts } = setup();
    restarts.gaveUp(new Error('first'));
    restarts.gaveUp(new Error('second'));
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(100);
    expect(calls).toHaveLength(1);
    restarts.gaveUp(new Error('the re-created one died too')); // while attempt 1 runs
    calls[0]?.succeed();
    await flush();
    expect(restarts.status).toMatchObject({ attempt: 2, reason: expect.stringContaining('the re-created one died too') });
    await clock.advance(200);
    expect(calls).toHaveLength(2);
  });

  it('a failed re-creation after a subscription change is retried the same way, with its own reason', () => {
    const { logs, restarts } = setup();
    restarts.gaveUp(new Error('coordinator refused'), 're-creating the consumer after a subscription change failed');
    expect(restarts.status).toMatchObject({ attempt: 1, reason: 're-creating the consumer after a subscription change failed: coordinator refused' });
    expect(logs.find({ level: 'error', text: 'after a subscription change failed: coordinator refused); re-creating it, attempt 1 in 100 ms' })).toHaveLength(
      1,
    );
    restarts.stop();
  });

  it('recovered() (a subscription change re-created the consumer meanwhile) cancels the pending attempt', async () => {
    const { clock, calls, restarts } = setup();
    restarts.gaveUp(new Error('x'));
    restarts.recovered();
    expect(restarts.status).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(10_000);
    expect(calls).toHaveLength(0);
  });

  it('stop() (component close) cancels the pending attempt, leaves no timer, and ignores later give-ups and a running attempt', async () => {
    const { clock, logs, calls, restarts } = setup();
    restarts.gaveUp(new Error('x'));
    await clock.advance(100);
    expect(calls).toHaveLength(1);
    restarts.stop();
    calls[0]?.fail(new Error('closed meanwhile'));
    await flush();
    expect(restarts.status).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
    restarts.gaveUp(new Error('late crash event'));
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(60_000);
    expect(calls).toHaveLength(1);
    expect(logs.find({ text: 'attempt 2' })).toHaveLength(0);
  });
});
