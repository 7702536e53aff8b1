const DONE: Promise<void> = Promise.resolve();

/** A counting semaphore: a topic's `limits` entry. */
export class Slots {
  private readonly waiting: (() => void)[] = [];
  constructor(private free: number) {}

  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return DONE;
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }

  /** Lets every waiter go (abort: they see the consumer abandoned and hand their slot back). */
  drain(): void {
    for (const next of this.waiting.splice(0)) next();
  }
}
