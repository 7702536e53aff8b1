import type { LoggerService, LogLevel } from '@nestjs/common';
import type { Level, Logger } from 'pino';
import { createPinoLogger, type LineOutput } from './logger';
import { type LogFormat, resolveLogSettings } from './sidekick.options';

export interface SidekickNestLoggerOptions {
  /** Shown on every line (`[nodeapp] ...`) and in each JSON record, as on Sidekick's own lines. */
  readonly appId?: string;
  /** pino level; default `SIDEKICK_LOG_LEVEL` or `info`. */
  readonly level?: string;
  /** Default `SIDEKICK_LOG_FORMAT`, else `json` under `NODE_ENV=production`, else `pretty`. */
  readonly format?: LogFormat;
  /** Colours in the pretty format on a terminal; default: unless `NO_COLOR` is set. */
  readonly color?: boolean;
  /** Where lines go (default stdout). */
  readonly out?: LineOutput;
}

/** Nest's level names to pino's. */
const PINO_LEVEL: Readonly<Record<LogLevel, Level>> = { verbose: 'trace', debug: 'debug', log: 'info', warn: 'warn', error: 'error', fatal: 'fatal' };

/**
 * Nest's `LoggerService` on pino, in the format of Sidekick's own log lines: pass it to
 * `NestFactory.create(AppModule, { logger })` and Nest's lines (start-up, routes, your `new Logger(...)`
 * calls) and Sidekick's come out as one stream. Made by {@link createSidekickLogger}.
 */
export class SidekickNestLogger implements LoggerService {
  private enabled: ReadonlySet<LogLevel> | undefined;

  constructor(readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('log', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('verbose', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Only these Nest levels are written (on top of the pino level). */
  setLogLevels(levels: LogLevel[]): void {
    this.enabled = new Set(levels);
  }

  /**
   * Nest's calling convention: the last string parameter is the context; for `error`, a string
   * parameter that looks like a stack trace is the stack. Other parameters are kept as `params`.
   */
  private write(level: LogLevel, message: unknown, params: readonly unknown[]): void {
    if (this.enabled && !this.enabled.has(level)) return;
    const rest = [...params];
    const fields: Record<string, unknown> = {};
    const last = rest[rest.length - 1];
    if (typeof last === 'string' && !isStack(last)) {
      fields['context'] = last;
      rest.pop();
    }
    if (level === 'error' || level === 'fatal') {
      const stackAt = rest.findIndex((p) => typeof p === 'string' && (isStack(p) || rest.length === 1));
      const stack = rest[stackAt];
      if (typeof stack === 'string') {
        fields['err'] = { stack };
        rest.splice(stackAt, 1);
      }
    }
    if (rest.length > 0) fields['params'] = rest;
    let msg: string;
    if (message instanceof Error) {
      fields['err'] = message; // pino's serializer: type, message, stack
      msg = message.message;
    } else if (typeof message === 'string') {
      msg = message;
    } else {
      msg = describe(message);
    }
    this.pino[PINO_LEVEL[level]](fields, msg);
  }
}

function isStack(text: string): boolean {
  return /\n\s+at /.test(text);
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * A Nest logger writing Sidekick's format (see {@link SidekickNestLogger}):
 *
 * ```ts
 * const app = await NestFactory.create(AppModule, { logger: createSidekickLogger({ appId: 'nodeapp' }) });
 * ```
 *
 * It is made before the module, so what it does not get in `options` it reads from the environment
 * itself, by the same rule as the module (`resolveLogSettings`: `SIDEKICK_LOG_LEVEL`,
 * `SIDEKICK_LOG_FORMAT`, `NODE_ENV`, `NO_COLOR`).
 */
export function createSidekickLogger(options: SidekickNestLoggerOptions = {}, env: NodeJS.ProcessEnv = process.env): SidekickNestLogger {
  const defaults = resolveLogSettings(env);
  const base = options.appId === undefined ? {} : { appId: options.appId };
  return new SidekickNestLogger(
    createPinoLogger(base, 'nest', {
      level: options.level ?? defaults.level,
      format: options.format ?? defaults.format,
      color: options.color ?? defaults.color,
      ...(options.out ? { out: options.out } : {}),
    }),
  );
}
