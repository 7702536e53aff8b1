// A logger that drops everything, from the shipped testing entry.
import type { SidekickLogger } from '../../src/spi/logger';

export { captureLogs, silentLogger as noopLogger } from '../../src/testing';

/** One log call, as {@link capturingLogger} records it. */
export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Readonly<Record<string, unknown>>;
  readonly message: string;
}

/** A logger that records every call (children included, their bindings merged into the fields). */
export function capturingLogger(): SidekickLogger & { readonly entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const make = (bindings: Record<string, unknown>): SidekickLogger => {
    const at =
      (level: LogEntry['level']) =>
      (fields: object, message?: string): void => {
        entries.push({ level, fields: { ...bindings, ...fields }, message: message ?? '' });
      };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => make({ ...bindings, ...more }) };
  };
  return Object.assign(make({}), { entries });
}
