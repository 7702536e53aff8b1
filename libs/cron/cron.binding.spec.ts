import { ConfigError } from '../../src/errors/config.errors';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import type { BindingEvent } from '../../src/spi/binding';
import type { SidekickLogger } from '../../src/spi/logger';
import { noopLogger } from '../../test/support/logger';
import { CronBinding, cronBindingFactory, parseSchedule } from './cron.binding';
import { componentInit } from '../../src/spi/metadata-reader';

const START = Date.UTC(2026, 0, 1, 0, 0, 0);

interface LogLine {
  level: string;
  msg: string;
}

function recordingLogger(lines: LogLine[]): SidekickLogger {
  const log =
    (level: string) =>
    (_obj: object, msg?: string): void => {
      lines.push({ level, msg: msg ?? '' });
    };
  const logger: SidekickLogger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

async function openCron(schedule: string, clock: VirtualClock, logger: SidekickLogger = noopLogger): Promise<CronBinding> {
  const binding = cronBindingFactory.create();
  await binding.init(
    componentInit({
      name: 'tick',
      type: 'bindings.cron',
      appId: 'app',
      metadata: { schedule, direction: 'input' },
      clock,
      logger,
      source: 'components/cron.yaml',
    }),
  );
  return binding;
}

describe('bindings.cron', () => {
  it('@every 15s fires 4 times in 60 s, with no data and daprd metadata', async () => {
    const clock = new VirtualClock(START);
    const cron = await openCron('@every 15s', clock);
    const events: { at: number; event: BindingEvent }[] = [];
    const handle = await cron.read(async (event) => {
      events.push({ at: clock.now(), event });
      return undefined;
    });
    await clock.advance(60_000);
    expect(events.map((e) => (e.at - START) / 1000)).toEqual([15, 30, 45, 60]);
    expect(events[0]?.event.data.length).toBe(0);
    expect(events[0]?.event.metadata).toEqual({ timeZone: expect.any(String), readTimeUTC: '2026-01-01 00:00:15 +0000 UTC' });
    await handle.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('@every with a Go duration (1m30s)', async () => {
    const clock = new VirtualClock(START);
    const cron = await openCron('@every 1m30s', clock);
    const at: number[] = [];
    const handle = await cron.read(async () => void at.push((clock.now() - START) / 1000));
    await clock.advance(200_000);
    expect(at).toEqual([90, 180]);
    await handle.close();
  });

  it('a 6-field schedule fires on the 10 s marks', async () => {
    const clock = new VirtualClock(START + 3_000);
    const cron = await openCron('*/10 * * * * *', clock);
    const seconds: number[] = [];
    const handle = await cron.read(async () => void seconds.push((clock.now() - START) / 1000));
    await clock.advance(60_000);
    expect(seconds).toEqual([10, 20, 30, 40, 50, 60]);
    await handle.close();
  });

  it('long waits (@daily) are re-armed in steps and still fire on time', async () => {
    const clock = new VirtualClock(START + 1_000);
    const cron = await openCron('CRON_TZ=UTC @daily', clock);
    const days: number[] = [];
    const handle = await cron.read(async () => void days.push((clock.now() - START) / 86_400_000));
    await clock.advance(2 * 86_400_000);
    expect(days).toEqual([1, 2]);
    await handle.close();
  });

  it('a 5-field schedule, descriptors and CRON_TZ compute the next run as robfig/cron does', () => {
    const ctx = { field: 'spec.metadata.schedule' };
    const from = Date.UTC(2026, 0, 1, 0, 10, 3);
    const next = (schedule: string): string => new Date(parseSchedule(schedule, ctx).nextRun(from) ?? 0).toISOString();
    expect(next('CRON_TZ=UTC */5 * * * *')).toBe('2026-01-01T00:15:00.000Z');
    expect(next('CRON_TZ=UTC @hourly')).toBe('2026-01-01T01:00:00.000Z');
    expect(next('TZ=UTC @midnight')).toBe('2026-01-02T00:00:00.000Z');
    expect(next('CRON_TZ=Asia/Kolkata 0 0 * * * *')).toBe('2026-01-01T00:30:00.000Z');
    expect(parseSchedule('CRON_TZ=Asia/Kolkata @daily', ctx).timeZone).toBe('Asia/Kolkata');
  });

  it('skips a tick while the previous one still runs (no overlap), logging at debug', async () => {
    const clock = new VirtualClock(START);
    const lines: LogLine[] = [];
    const cron = await openCron('@every 1s', clock, recordingLogger(lines));
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    let release!: () => void;
    const handle = await cron.read(async () => {
      calls += 1;
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      if (calls === 1) await new Promise<void>((resolve) => (release = resolve));
      running -= 1;
      return undefined;
    });
    await clock.advance(5_000);
    expect(calls).toBe(1);
    expect(lines.filter((l) => l.level === 'debug' && /skipped/.test(l.msg))).toHaveLength(4);
    release();
    await new Promise((r) => setImmediate(r)); // let the first tick settle
    await clock.advance(2_000);
    expect(calls).toBe(3);
    expect(maxRunning).toBe(1);
    await handle.close();
  });

  it('logs a handler rejection and keeps the schedule (no redelivery)', async () => {
    const clock = new VirtualClock(START);
    const lines: LogLine[] = [];
    const cron = await openCron('@every 10s', clock, recordingLogger(lines));
    let calls = 0;
    const handle = await cron.read(async () => {
      calls += 1;
      throw new Error('boom');
    });
    await clock.advance(30_000);
    expect(calls).toBe(3);
    expect(lines.filter((l) => l.level === 'warn' && /cron handler failed.*boom/.test(l.msg))).toHaveLength(3);
    await handle.close();
  });

  it('close() stops scheduling and waits for the in-flight tick', async () => {
    const clock = new VirtualClock(START);
    const cron = await openCron('@every 1s', clock);
    let release!: () => void;
    let finished = false;
    let calls = 0;
    await cron.read(async () => {
      calls += 1;
      await new Promise<void>((resolve) => (release = resolve));
      finished = true;
      return undefined;
    });
    await clock.advance(1_000);
    let closed = false;
    const closing = cron.close().then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(finished).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(10_000);
    expect(calls).toBe(1);
    await cron.close(); // twice is fine
  });

  it('a bad or missing schedule is a ConfigError naming the field with an example', async () => {
    const clock = new VirtualClock(START);
    for (const schedule of ['every 15s', '* * *', '61 * * * * *', '@every soon', 'CRON_TZ=Mars/Base * * * * *', '']) {
      const err: unknown = await openCron(schedule, clock).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain('components/cron.yaml: component "tick": spec.metadata.schedule');
      expect((err as Error).message).toMatch(schedule.startsWith('CRON_TZ') ? /not a known time zone/ : /e\.g\. "\*\/15 \* \* \* \* \*"/);
    }
    expect(clock.pendingTimers).toBe(0);
  });
});
