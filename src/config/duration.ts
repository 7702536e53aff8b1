import { ConfigError } from '../errors/config.errors';

const UNITS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;

/**
 * Parses a Go duration (`5s`, `1m30s`, `250ms`) as Dapr's YAML uses them, or a bare number of seconds.
 * Returns milliseconds.
 */
export function parseDuration(value: string, context: { file?: string; component?: string; field: string }): number {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  let total = 0;
  let consumed = 0;
  PART.lastIndex = 0;
  for (let match = PART.exec(text); match; match = PART.exec(text)) {
    total += Number(match[1]) * (UNITS[match[2] ?? ''] ?? 0);
    consumed = PART.lastIndex;
  }
  if (text === '' || consumed !== text.length) {
    throw new ConfigError(`"${value}" is not a duration; use a Go duration such as 500ms, 5s, 1m30s or 1h`, context);
  }
  return total;
}
