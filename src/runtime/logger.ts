import pino from 'pino';
import type { SidekickLogger } from '../spi/logger';

/** The default structured logger: pino, JSON lines on stdout, at `level` (options: `SIDEKICK_LOG_LEVEL`, default info). */
export function createDefaultLogger(appId: string, level: string): SidekickLogger {
  return pino({ name: 'sidekick', level, base: { appId } });
}
