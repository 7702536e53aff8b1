/** An opaque handle returned by {@link Clock.setTimeout}. */
export interface TimerHandle {
  readonly id: number;
}

/**
 * All time in the runtime is read through a Clock, so tests can drive it
 * (a virtual clock advances timers and TTLs without waiting).
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Resolves after `ms` of this clock's time. */
  sleep(ms: number): Promise<void>;
}

/**
 * Runs `fn` against a deadline of `ms` on `clock`: its result, or the error of `onTimeout` when the
 * deadline passes first (the work itself is not cancelled). The timer is cleared either way.
 */
export async function withTimeout<T>(
  clock: Clock,
  ms: number,
  fn: () => Promise<T>,
  onTimeout: () => Error = () => new Error(`no answer within ${ms} ms`),
): Promise<T> {
  let timer: TimerHandle | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    if (timer) clock.clearTimeout(timer);
  }
}

/**
 * Like {@link withTimeout} on real time. For operational deadlines (component init, connect, drain,
 * shutdown, network watchdogs): a virtual clock in a test must never make them hang or fire early.
 */
export async function withDeadline<T>(ms: number, fn: () => Promise<T>, onTimeout: () => Error = () => new Error(`no answer within ${ms} ms`)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
