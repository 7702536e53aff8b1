import pino, { type DestinationStream, type Logger } from 'pino';
import type { SidekickLogger } from '../spi/logger';
import { activeTraceIds } from './interception/trace-context';
import type { LogFormat } from './sidekick.options';

/**
 * The one log stream of a Sidekick app: pino records, written as JSON lines (`json`) or as one
 * Nest-like line each (`pretty`). Sidekick's own logger and `createSidekickLogger()` (Nest's) are
 * both made here, so the app's, Nest's and Sidekick's lines share a format and, written
 * synchronously to stdout, their order.
 */

export interface PinoSettings {
  readonly level: string;
  readonly format: LogFormat;
  /** Colours in the pretty format, when the output is also a terminal. */
  readonly color?: boolean;
  /** Where the lines go (default stdout). */
  readonly out?: LineOutput;
}

/** What the pretty format writes to: `process.stdout` or anything with a `write`. */
export interface LineOutput {
  write(line: string): unknown;
  readonly isTTY?: boolean;
}

/** The default structured logger, at `level` in `format` (options: `SIDEKICK_LOG_LEVEL`, `SIDEKICK_LOG_FORMAT`). */
export function createDefaultLogger(appId: string, level: string, format: LogFormat = 'json', color = false): SidekickLogger {
  return createPinoLogger({ appId }, 'sidekick', { level, format, color });
}

export function createPinoLogger(base: Record<string, unknown>, name: string, settings: PinoSettings): Logger {
  // `trace_id` / `span_id` on every record written inside a span (tracing on; nothing otherwise).
  const options = { name, level: settings.level, base, mixin: traceMixin };
  // Every logger writes synchronously through the same stdout: lines keep their order across loggers
  // (pino's default destination buffers per logger) and are out before a process.exit().
  const out = settings.out ?? process.stdout;
  if (settings.format === 'json') return pino(options, { write: (line: string) => void out.write(line) });
  return pino(options, prettyDestination(out, settings.color === true && out.isTTY === true));
}

/** pino merges the record into what the mixin returns: a fresh object each time. */
function traceMixin(): object {
  return activeTraceIds() ?? {};
}

/** A pino destination that prints each JSON record as one {@link formatPrettyLine} line. */
export function prettyDestination(out: LineOutput, color: boolean): DestinationStream {
  return {
    write(json: string): void {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(json) as Record<string, unknown>;
      } catch {
        out.write(json);
        return;
      }
      out.write(formatPrettyLine(record, { color }) + '\n');
    },
  };
}

const LEVELS: ReadonlyArray<readonly [number, string, string]> = [
  // pino level, Nest's label, colour (Nest's: green log, yellow warn, red error, magenta debug, cyan verbose)
  [60, 'FATAL', '\x1b[1;31m'],
  [50, 'ERROR', '\x1b[31m'],
  [40, 'WARN', '\x1b[33m'],
  [30, 'LOG', '\x1b[32m'],
  [20, 'DEBUG', '\x1b[35m'],
  [0, 'VERBOSE', '\x1b[36m'],
];
const YELLOW = '\x1b[33m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';
/** Record fields the line shows in its fixed parts, not as `key=value`. */
const SHOWN = new Set(['level', 'time', 'pid', 'hostname', 'appId', 'name', 'context', 'msg', 'err', 'v']);

/**
 * One pino record as Nest prints a line: `[appId] pid  - 2026-12-01 05:39:35.974     LOG [context] message key=value ...`.
 * The context is the record's `context` (Nest's) or its logger `name` (`sidekick`); the other fields
 * follow as `key=value`. An `err` with a stack is printed on the lines after.
 */
export function formatPrettyLine(record: Record<string, unknown>, options: { color?: boolean; pid?: number } = {}): string {
  const level = typeof record['level'] === 'number' ? record['level'] : 30;
  const [, label, colour] = LEVELS.find(([min]) => level >= min) ?? [0, 'VERBOSE', ''];
  const paint = (text: string, code: string): string => (options.color && text !== '' ? `${code}${text}${RESET}` : text);
  const prefix = `[${typeof record['appId'] === 'string' ? record['appId'] : 'Nest'}] ${options.pid ?? process.pid}  - ${localTime(record['time'])}`;
  const contextValue = record['context'] ?? record['name'];
  const context = typeof contextValue === 'string' && contextValue !== '' ? paint(`[${contextValue}] `, YELLOW) : '';
  const msg = typeof record['msg'] === 'string' ? record['msg'] : '';
  const fields = Object.entries(record)
    .filter(([key]) => !SHOWN.has(key))
    .map(([key, value]) => `${key}=${fieldText(value)}`);
  const err = record['err'];
  let stack = '';
  if (err !== undefined) {
    if (typeof err === 'object' && err !== null && typeof (err as { stack?: unknown }).stack === 'string') {
      stack = '\n' + (err as { stack: string }).stack;
    } else {
      fields.push(`err=${fieldText(err)}`);
    }
  }
  const tail = fields.length > 0 ? ' ' + paint(fields.join(' '), DIM) : '';
  return `${paint(prefix, colour)} ${paint(label.padStart(7), colour)} ${context}${paint(msg, colour)}${tail}${paint(stack, colour)}`;
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** `YYYY-MM-DD HH:MM:SS.mmm` in local time. */
function localTime(time: unknown): string {
  const d = new Date(typeof time === 'number' ? time : Date.now());
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
