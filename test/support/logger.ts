import type { SidekickLogger } from '../../src/spi/logger';

/** A logger that drops everything: for tests that do not look at logs. */
export const noopLogger: SidekickLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => noopLogger,
};
