/**
 * A durable step's outcome inside a workflow (an activity, a timer, an external event, `whenAll`).
 * Awaitable like a promise; only the workflow runtime settles it, in history order, which is what
 * makes a replay reach the same decisions.
 */
export class Task<T> implements PromiseLike<T> {
  private readonly promise: Promise<T>;
  private settle!: { resolve(value: T): void; reject(err: unknown): void };
  private state: 'pending' | 'completed' | 'failed' = 'pending';
  private value: T | undefined;
  private error: unknown;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A failed task nobody awaits (a whenAny loser) is not an unhandled rejection.
    this.promise.catch(() => undefined);
  }

  get isComplete(): boolean {
    return this.state !== 'pending';
  }

  get isFailed(): boolean {
    return this.state === 'failed';
  }

  /** The result, once completed without failure. */
  getResult(): T | undefined {
    return this.value;
  }

  /** The error, once failed. */
  getError(): unknown {
    return this.error;
  }

  /** @internal Settled by the runtime only. */
  complete(value: T): void {
    if (this.state !== 'pending') return;
    this.state = 'completed';
    this.value = value;
    this.settle.resolve(value);
  }

  /** @internal Settled by the runtime only. */
  fail(err: unknown): void {
    if (this.state !== 'pending') return;
    this.state = 'failed';
    this.error = err;
    this.settle.reject(err);
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.promise.then(onfulfilled, onrejected);
  }
}
