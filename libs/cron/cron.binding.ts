import { Cron } from 'croner';
import { parseDuration } from '../../src/config/duration';
import { ConfigError } from '../../src/errors/config.errors';
import { errorMessage } from '../../src/errors/sidekick.error';
import type { BindingHandler, InputBinding, InputBindingHandle } from '../../src/spi/binding';
import type { Clock, TimerHandle } from '../../src/spi/clock';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';

/** When the next tick falls after `from` (ms since the epoch). */
type NextRun = (from: number) => number | undefined;

const EXAMPLES = 'e.g. "*/15 * * * * *" (seconds first), "0 30 * * * *", "*/5 * * * *", "@every 1m30s", "@hourly" or "CRON_TZ=Europe/Paris 0 0 9 * * *"';
/** robfig/cron's descriptors that croner does not know by that name. */
const ALIASES: Readonly<Record<string, string>> = { '@midnight': '@daily' };
/** Longest single timer: Node timers overflow past 2^31-1 ms; a longer wait re-arms. */
const MAX_WAIT_MS = 6 * 3_600_000;
const EMPTY = Buffer.alloc(0);

/**
 * `bindings.cron` (input): calls the handler on a schedule, as daprd's cron binding does (no data;
 * metadata `timeZone` and `readTimeUTC`). Schedules use robfig/cron's syntax as Dapr parses it:
 * 5 or 6 fields (seconds optional, first), descriptors (`@hourly`, `@daily`, `@midnight`, ...),
 * `@every <Go duration>` and a `CRON_TZ=<zone>` / `TZ=<zone>` prefix (default: the process's zone).
 * Ticks are scheduled with the injected clock. A tick that comes while the previous one is still
 * running is skipped; a handler error is logged, never redelivered.
 */
export class CronBinding implements InputBinding {
  private name = 'cron';
  private clock!: Clock;
  private logger!: SidekickLogger;
  private nextRun!: NextRun;
  private timeZone = '';
  private readonly readers = new Set<Reader>();

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.clock = init.clock;
    this.logger = init.logger;
    const schedule = init.meta.required('schedule', EXAMPLES);
    const parsed = parseSchedule(schedule, { file: init.source, component: init.name, field: 'spec.metadata.schedule' });
    this.nextRun = parsed.nextRun;
    this.timeZone = parsed.timeZone;
  }

  async read(handler: BindingHandler): Promise<InputBindingHandle> {
    const reader = new Reader(this.name, this.clock, this.logger, this.nextRun, this.timeZone, handler);
    this.readers.add(reader);
    reader.start();
    return {
      close: async () => {
        this.readers.delete(reader);
        await reader.stop();
      },
    };
  }

  /** Stops every reader and waits for their in-flight ticks. */
  async close(): Promise<void> {
    const readers = [...this.readers];
    this.readers.clear();
    await Promise.all(readers.map((r) => r.stop()));
  }
}

/** One `read()`: a chain of clock timers, at most one handler call in flight. */
class Reader {
  private timer?: TimerHandle;
  private inFlight?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
    private readonly nextRun: NextRun,
    private readonly timeZone: string,
    private readonly handler: BindingHandler,
  ) {}

  start(): void {
    this.arm(this.clock.now());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /** Schedules the first tick after `from` (or after now, when `from` is already past). */
  private arm(from: number): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const next = this.nextRun(Math.max(from, now));
    if (next === undefined) {
      this.logger.info({ binding: this.name }, 'cron schedule has no further runs');
      return;
    }
    this.wait(next);
  }

  private wait(at: number): void {
    const delay = at - this.clock.now();
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        if (this.stopped) return;
        if (this.clock.now() < at) {
          this.wait(at); // a capped wait (or an early timer): not due yet
          return;
        }
        this.tick();
        this.arm(at);
      },
      Math.min(Math.max(0, delay), MAX_WAIT_MS),
    );
  }

  private tick(): void {
    if (this.inFlight) {
      this.logger.debug({ binding: this.name }, 'cron tick skipped: the previous tick is still running');
      return;
    }
    const metadata = { timeZone: this.timeZone, readTimeUTC: goTimeUTC(this.clock.now()) };
    const run = (async () => {
      try {
        await this.handler({ data: EMPTY, metadata });
      } catch (err) {
        this.logger.warn({ binding: this.name, err }, `cron handler failed (not redelivered): ${errorMessage(err)}`);
      }
    })();
    this.inFlight = run;
    void run.finally(() => {
      if (this.inFlight === run) this.inFlight = undefined;
    });
  }
}

/** Parses a Dapr (robfig/cron) schedule into a next-run function; throws ConfigError with examples. */
export function parseSchedule(text: string, context: { file?: string; component?: string; field: string }): { nextRun: NextRun; timeZone: string } {
  let spec = text.trim();
  let zone: string | undefined;
  const tz = /^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$/.exec(spec);
  if (tz) {
    zone = tz[1];
    spec = (tz[2] ?? '').trim();
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
    } catch {
      throw new ConfigError(`"${zone}" in schedule "${text}" is not a known time zone (use an IANA name such as Europe/Paris)`, context);
    }
  }
  const timeZone = zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const every = /^@every\s+(\S+)$/i.exec(spec);
  if (every) {
    let ms: number;
    try {
      ms = parseDuration(every[1] ?? '', context);
    } catch {
      throw new ConfigError(`"${text}" is not a valid schedule: "${every[1]}" is not a Go duration; ${EXAMPLES}`, context);
    }
    // As robfig/cron: the delay is whole seconds (at least one) and runs fall on whole seconds.
    const delay = Math.max(1000, Math.floor(ms / 1000) * 1000);
    return { timeZone, nextRun: (from) => from - (((from % 1000) + 1000) % 1000) + delay };
  }
  const pattern = ALIASES[spec.toLowerCase()] ?? spec;
  let cron: Cron;
  try {
    // No callback: croner only evaluates the pattern, it starts no timer of its own.
    cron = new Cron(pattern, zone ? { timezone: zone } : {});
    cron.nextRun();
  } catch (err) {
    throw new ConfigError(`"${text}" is not a valid schedule (${errorMessage(err)}); ${EXAMPLES}`, context);
  }
  return { timeZone, nextRun: (from) => cron.nextRun(new Date(from))?.getTime() };
}

/** `time.Now().UTC().String()` as Go prints it (daprd's `readTimeUTC`): `2026-01-01 00:00:15.25 +0000 UTC`. */
function goTimeUTC(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-01-01T00:00:15.250Z
  const fraction = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ''} +0000 UTC`;
}

export const cronBindingFactory: ComponentFactory<CronBinding> = {
  type: 'bindings.cron',
  kind: 'bindings',
  versions: ['v1'],
  create: () => new CronBinding(),
};
