import type { Clock, TimerHandle } from '../../spi/clock';

interface NodeTimerHandle extends TimerHandle {
  readonly timer: NodeJS.Timeout;
}

/** Wall-clock time and Node timers. The default {@link Clock}. */
export class SystemClock implements Clock {
  private nextId = 1;

  now(): number {
    return Date.now();
  }

  /** Runtime timers (sweeps, timeouts) do not keep the process alive on their own. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle: NodeTimerHandle = { id: this.nextId++, timer: setTimeout(fn, ms).unref() };
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    clearTimeout((handle as NodeTimerHandle).timer);
  }

  /** A sleep does keep the process alive, like a plain `setTimeout`. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      setTimeout(resolve, ms);
    });
  }
}
