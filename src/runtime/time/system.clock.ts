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

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle: NodeTimerHandle = { id: this.nextId++, timer: setTimeout(fn, ms) };
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    clearTimeout((handle as NodeTimerHandle).timer);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.setTimeout(resolve, ms);
    });
  }
}
