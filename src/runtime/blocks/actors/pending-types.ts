/**
 * Sidecar mode: the app's actor types until its `GET /dapr/config` has been read. A call of a type not
 * registered yet waits for them, at most `maxWaitMs` (it then fails as for an unknown type).
 */
export class PendingTypes {
  private pending?: Promise<void>;

  constructor(private readonly maxWaitMs: number) {}

  /** Whether the app's types are still being read. */
  get waiting(): boolean {
    return this.pending !== undefined;
  }

  arriving(pending: Promise<void>): void {
    this.pending = pending;
    void pending.finally(() => {
      if (this.pending === pending) this.pending = undefined;
    });
  }

  /** Resolves once the types have arrived (or failed to), at most `maxWaitMs`; at once when none are awaited. */
  async settled(): Promise<void> {
    const pending = this.pending;
    if (!pending) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((ok) => {
      timer = setTimeout(ok, this.maxWaitMs);
      timer.unref();
    });
    try {
      await Promise.race([pending.catch(() => undefined), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
