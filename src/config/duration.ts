import { ConfigError } from '../errors/config.errors';

const UNITS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const GO_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
const ISO = /^P(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/i;
const ISO_UNITS = [604_800_000, 86_400_000, 3_600_000, 60_000, 1000] as const;

/** What a bare integer (no unit) means. */
export type BareNumberUnit = 'seconds' | 'milliseconds';

export const DURATION_FORMS = 'use a Go duration such as 500ms, 5s, 1m30s or 1h, an ISO-8601 duration such as PT30S, or a whole number of seconds';

/**
 * Parses a duration as Dapr's component metadata decoder does (components-contrib
 * `metadata.DecodeMetadata`, `toTimeDurationHookFunc`): a Go duration (`500ms`, `1h30m`, `-1s`);
 * failing that, a bare integer, which is a number of SECONDS (`bare: 'milliseconds'` for the few
 * fields Dapr documents in milliseconds). ISO-8601 durations (`PT30S`, `P1DT2H`) are accepted too.
 * Returns milliseconds; anything else is a ConfigError naming `context`.
 */
export function parseDuration(value: string, context: { file?: string; component?: string; field: string }, bare: BareNumberUnit = 'seconds'): number {
  const text = value.trim();
  const parsed = parseGoDuration(text) ?? parseBare(text, bare) ?? parseIso(text);
  if (parsed === undefined) {
    const forms = bare === 'seconds' ? DURATION_FORMS : DURATION_FORMS.replace('whole number of seconds', 'whole number of milliseconds');
    throw new ConfigError(`"${value}" is not a duration; ${forms}`, context);
  }
  return parsed;
}

/** Go's `time.ParseDuration`, in milliseconds; undefined when `text` is not one. */
export function parseGoDuration(text: string): number | undefined {
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.startsWith('-') || text.startsWith('+') ? text.slice(1) : text;
  if (body === '0') return 0;
  if (body === '') return undefined;
  let total = 0;
  GO_PART.lastIndex = 0;
  while (GO_PART.lastIndex < body.length) {
    const match = GO_PART.exec(body);
    if (!match) return undefined;
    total += Number(match[1]) * (UNITS[match[2] ?? ''] ?? Number.NaN);
  }
  return Number.isFinite(total) ? sign * total : undefined;
}

function parseBare(text: string, unit: BareNumberUnit): number | undefined {
  if (!/^[-+]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return unit === 'seconds' ? n * 1000 : n;
}

function parseIso(text: string): number | undefined {
  const match = ISO.exec(text);
  if (!match || text.endsWith('T') || match.slice(1).every((part) => part === undefined)) return undefined;
  return ISO_UNITS.reduce((sum, ms, i) => sum + Number((match[i + 1] ?? '0').replace(',', '.')) * ms, 0);
}
