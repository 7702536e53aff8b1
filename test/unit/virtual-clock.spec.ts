import { VirtualClock } from '../../src/runtime/time/virtual.clock';

describe('VirtualClock', () => {
  it('starts at the given time and moves only when advanced', async () => {
    const clock = new VirtualClock(1000);
    expect(clock.now()).toBe(1000);
    await new Promise((r) => setTimeout(r, 5));
    expect(clock.now()).toBe(1000);
    await clock.advance(250);
    expect(clock.now()).toBe(1250);
    expect(new VirtualClock().now()).toBe(Date.UTC(2026, 0, 1));
  });

  it('fires due timers in time order, then creation order for equal times, each at its own time', async () => {
    const clock = new VirtualClock(0);
    const fired: string[] = [];
    const at = (name: string) => () => fired.push(`${name}@${clock.now()}`);
    clock.setTimeout(at('c'), 30);
    clock.setTimeout(at('a'), 10);
    clock.setTimeout(at('b1'), 20);
    clock.setTimeout(at('b2'), 20);
    clock.setTimeout(at('late'), 100);
    await clock.advance(30);
    expect(fired).toEqual(['a@10', 'b1@20', 'b2@20', 'c@30']);
    expect(clock.now()).toBe(30);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(69);
    expect(fired).toHaveLength(4);
    await clock.advance(1);
    expect(fired).toEqual(['a@10', 'b1@20', 'b2@20', 'c@30', 'late@100']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires timers set by timers when they fall due within the same advance, and not before', async () => {
    const clock = new VirtualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => {
      fired.push(`outer@${clock.now()}`);
      clock.setTimeout(() => {
        fired.push(`inner@${clock.now()}`);
        clock.setTimeout(() => fired.push(`innermost@${clock.now()}`), 0);
      }, 15);
      clock.setTimeout(() => fired.push(`beyond@${clock.now()}`), 50);
    }, 10);
    clock.setTimeout(() => fired.push(`sibling@${clock.now()}`), 20);
    await clock.advance(40);
    expect(fired).toEqual(['outer@10', 'sibling@20', 'inner@25', 'innermost@25']);
    await clock.advance(20);
    expect(fired.at(-1)).toBe('beyond@60');
  });

  it('clears a pending timer, and clearing twice or after it fired is harmless', async () => {
    const clock = new VirtualClock(0);
    const fired: number[] = [];
    const one = clock.setTimeout(() => fired.push(1), 10);
    clock.setTimeout(() => fired.push(2), 10);
    clock.clearTimeout(one);
    clock.clearTimeout(one);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(10);
    expect(fired).toEqual([2]);
    clock.clearTimeout(one);
  });

  it('a timer cleared by an earlier timer of the same advance does not fire', async () => {
    const clock = new VirtualClock(0);
    const fired: string[] = [];
    const later = clock.setTimeout(() => fired.push('later'), 20);
    clock.setTimeout(() => clock.clearTimeout(later), 10);
    await clock.advance(30);
    expect(fired).toEqual([]);
  });

  it('treats a negative delay as 0', async () => {
    const clock = new VirtualClock(0);
    let fired = false;
    clock.setTimeout(() => (fired = true), -50);
    await clock.advance(0);
    expect(fired).toBe(true);
    expect(clock.now()).toBe(0);
  });

  it('resolves sleep() after advancing, letting the sleeper’s continuation run before the next timer', async () => {
    const clock = new VirtualClock(0);
    const log: string[] = [];
    void (async () => {
      await clock.sleep(10);
      log.push(`woke@${clock.now()}`);
      await clock.sleep(10);
      log.push(`woke again@${clock.now()}`);
    })();
    clock.setTimeout(() => log.push(`timer@${clock.now()}`), 15);
    await clock.advance(9);
    expect(log).toEqual([]);
    await clock.advance(100);
    expect(log).toEqual(['woke@10', 'timer@15', 'woke again@20']);
  });
});
