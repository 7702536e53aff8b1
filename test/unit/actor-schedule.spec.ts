import { firingAt, formatGoDuration, parseDurationMs, parseSchedule } from '../../src/runtime/blocks/actors/actor-schedule';

const NOW = Date.parse('2030-01-31T00:00:00Z');

describe('actor timer and reminder schedules', () => {
  it.each([
    ['1h30m', 5_400_000],
    ['0h0m3s0ms', 3000],
    ['500ms', 500],
    ['PT1M30S', 90_000],
    ['pt1.5s', 1500],
    ['P1DT1H', 90_000_000],
    ['P1W', 604_800_000],
  ])('parses the duration %s', (text, ms) => {
    expect(parseDurationMs(text, NOW)).toBe(ms);
  });

  it('counts ISO months from the registration time', () => {
    // 31 January + 1 month: JavaScript's Date rolls to 3 March (2030 is no leap year).
    expect(parseDurationMs('P1M', NOW)).toBe(Date.parse('2030-03-03T00:00:00Z') - NOW);
  });

  it.each(['', 'soon', '1x', 'P', 'PT', 'P1X', '--1s'])('refuses the duration "%s"', (text) => {
    expect(parseDurationMs(text, NOW)).toBeUndefined();
  });

  it('reads dueTime as a delay or an RFC 3339 time, period with repetitions, ttl as a delay or a time', () => {
    expect(parseSchedule({ dueTime: '10s', period: 'R5/PT1S', ttl: '1h' }, NOW)).toEqual({
      ok: true,
      schedule: { dueAt: NOW + 10_000, periodMs: 1000, repetitions: 5, expiresAt: NOW + 10_000 + 3_600_000 },
    });
    expect(parseSchedule({ dueTime: '2030-01-31T00:01:00Z' }, NOW)).toEqual({ ok: true, schedule: { dueAt: NOW + 60_000 } });
    expect(parseSchedule({ ttl: '2030-02-01T00:00:00Z', period: '1h' }, NOW)).toMatchObject({ ok: true, schedule: { expiresAt: NOW + 86_400_000 } });
    expect(parseSchedule({}, NOW)).toEqual({ ok: true, schedule: { dueAt: NOW } });
  });

  it.each([
    [{ dueTime: 'tomorrow' }, 'dueTime'],
    [{ period: 'R0/PT1S' }, 'period'],
    [{ period: 'R2/1s' }, 'period'],
    [{ period: '0s' }, 'period'],
    [{ ttl: '2029-01-01T00:00:00Z' }, 'ttl'],
    [{ dueTime: '1h', ttl: '2030-01-31T00:30:00Z' }, 'ttl'],
  ])('refuses %j naming %s', (spec, field) => {
    expect(parseSchedule(spec, NOW)).toMatchObject({ ok: false, field });
  });

  it('lists firings: once without a period, n times with repetitions, none past the ttl', () => {
    const once = { dueAt: 100 };
    expect([firingAt(once, 0), firingAt(once, 1)]).toEqual([100, undefined]);
    const three = { dueAt: 0, periodMs: 10, repetitions: 3 };
    expect([0, 1, 2, 3].map((n) => firingAt(three, n))).toEqual([0, 10, 20, undefined]);
    const ttl = { dueAt: 0, periodMs: 10, expiresAt: 25 };
    expect([0, 1, 2, 3].map((n) => firingAt(ttl, n))).toEqual([0, 10, 20, undefined]);
  });

  it('prints durations as Go does', () => {
    expect([0, 1500, 90_000, 3_600_000, 3_723_000].map(formatGoDuration)).toEqual(['0s', '1.5s', '1m30s', '1h0m0s', '1h2m3s']);
  });
});
