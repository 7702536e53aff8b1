/** Collects values and lets a test wait for a count, polling (never a fixed sleep). */
export class Collector<T> {
  readonly items: T[] = [];

  push(item: T): void {
    this.items.push(item);
  }

  async waitFor(count: number, timeoutMs = 5000): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.items.length < count) {
      if (Date.now() > deadline)
        throw new Error(`expected ${count} items within ${timeoutMs} ms, got ${this.items.length}: ${JSON.stringify(this.items).slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.items;
  }
}

/** Waits until `check` returns true, polling. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
