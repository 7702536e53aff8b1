import { parse as parseIsoDuration, toSeconds } from 'iso8601-duration';
import { parseGoDuration } from '../../../config/duration';

/** When a timer or reminder fires: first at `dueAt`, then every `periodMs`, at most `repetitions` times, until `expiresAt`. */
export interface Schedule {
  /** Epoch ms of the first firing. */
  readonly dueAt: number;
  /** Interval between firings; undefined: fire once. */
  readonly periodMs?: number;
  /** Most firings in all (ISO 8601 `R<n>/`); undefined: unbounded. */
  readonly repetitions?: number;
  /** Epoch ms after which it fires no more and is deleted. */
  readonly expiresAt?: number;
}

/** The user's texts, as registered (kept to answer GET and to compute the schedule again after a restart). */
export interface ScheduleSpec {
  readonly dueTime?: string;
  readonly period?: string;
  readonly ttl?: string;
}

export type ScheduleResult = { readonly ok: true; readonly schedule: Schedule } | { readonly ok: false; readonly field: string; readonly reason: string };

const FORMS_DUE = 'use a Go duration (1m30s), an ISO 8601 duration (PT1M30S) or an RFC 3339 time (2030-01-02T15:04:05Z)';
const FORMS_PERIOD = 'use a Go duration (1m30s) or an ISO 8601 duration, optionally with repetitions (PT1M30S, R5/PT1S)';
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

/**
 * Parses a timer's or reminder's `dueTime`, `period` and `ttl` as daprd does: `dueTime` and `ttl` as a
 * Go duration, an ISO 8601 duration or an RFC 3339 time; `period` as a Go duration or an ISO 8601
 * duration with optional repetitions (`R5/PT10S`). An empty `period` fires once; `R0` or a `ttl`
 * already passed (or before the due time) is rejected. `now` is the registration time.
 */
export function parseSchedule(spec: ScheduleSpec, now: number): ScheduleResult {
  let dueAt = now;
  if (spec.dueTime !== undefined && spec.dueTime !== '') {
    const due = parseInstantOrDelay(spec.dueTime, now);
    if (due === undefined) return { ok: false, field: 'dueTime', reason: `dueTime "${spec.dueTime}" is not valid; ${FORMS_DUE}` };
    dueAt = Math.max(now, due); // an RFC 3339 time already passed fires at once
  }
  let periodMs: number | undefined;
  let repetitions: number | undefined;
  if (spec.period !== undefined && spec.period !== '') {
    const period = parsePeriod(spec.period, dueAt);
    if (!period) return { ok: false, field: 'period', reason: `period "${spec.period}" is not valid; ${FORMS_PERIOD}` };
    if (period.repetitions === 0) return { ok: false, field: 'period', reason: `period "${spec.period}" has 0 repetitions: it would never fire` };
    if (period.ms <= 0 && period.repetitions !== 1) return { ok: false, field: 'period', reason: `period "${spec.period}" must be longer than zero` };
    periodMs = period.ms;
    repetitions = period.repetitions;
  }
  let expiresAt: number | undefined;
  if (spec.ttl !== undefined && spec.ttl !== '') {
    const ttl = parseInstantOrDelay(spec.ttl, now, dueAt);
    if (ttl === undefined) return { ok: false, field: 'ttl', reason: `ttl "${spec.ttl}" is not valid; ${FORMS_DUE}` };
    if (ttl <= now || ttl < dueAt) return { ok: false, field: 'ttl', reason: `ttl "${spec.ttl}" has already expired (it ends before the first firing)` };
    expiresAt = ttl;
  }
  return { ok: true, schedule: { dueAt, periodMs, repetitions, expiresAt } };
}

/**
 * Epoch ms of the `n`th firing (0-based), or undefined when there is none (past its repetitions or its
 * expiry, or a one-shot already fired).
 */
export function firingAt(schedule: Schedule, n: number): number | undefined {
  if (n > 0 && schedule.periodMs === undefined) return undefined;
  if (schedule.repetitions !== undefined && n >= schedule.repetitions) return undefined;
  const at = schedule.dueAt + n * (schedule.periodMs ?? 0);
  if (schedule.expiresAt !== undefined && at > schedule.expiresAt) return undefined;
  return at;
}

/** A duration (from `base`, default `now`) or an RFC 3339 instant, as epoch ms. */
function parseInstantOrDelay(text: string, now: number, base = now): number | undefined {
  const trimmed = text.trim();
  if (RFC3339.test(trimmed)) {
    const at = Date.parse(trimmed);
    return Number.isFinite(at) ? at : undefined;
  }
  const ms = parseDurationMs(trimmed, base);
  return ms === undefined || ms < 0 ? undefined : base + ms;
}

function parsePeriod(text: string, base: number): { ms: number; repetitions?: number } | undefined {
  const trimmed = text.trim();
  const rep = /^R(\d*)\/(.+)$/i.exec(trimmed);
  if (rep) {
    const ms = parseIsoMs(rep[2] ?? '', base);
    if (ms === undefined) return undefined;
    return rep[1] === '' ? { ms } : { ms, repetitions: Number(rep[1]) };
  }
  const ms = parseDurationMs(trimmed, base);
  return ms === undefined || ms < 0 ? undefined : { ms };
}

/** A Go duration (`1h30m`) or an ISO 8601 duration (`PT1H30M`, `P1M` counted from `base`), in ms. */
export function parseDurationMs(text: string, base = 0): number | undefined {
  if (/^[+-]?P/i.test(text)) return parseIsoMs(text, base);
  return parseGoDuration(text);
}

function parseIsoMs(text: string, base: number): number | undefined {
  if (
    !/^P(?!$)(\d+(?:[.,]\d+)?Y)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?W)?(\d+(?:[.,]\d+)?D)?(T(?=\d)(\d+(?:[.,]\d+)?H)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?S)?)?$/i.test(
      text,
    )
  ) {
    return undefined;
  }
  try {
    return Math.round(toSeconds(parseIsoDuration(text.toUpperCase()), new Date(base)) * 1000);
  } catch {
    return undefined;
  }
}

/** A duration in ms as Go prints it (`1h2m3.5s`, `0s`), for answers that echo a schedule. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}
