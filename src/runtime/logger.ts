import pino from 'pino';
import type { SidekickLogger } from '../spi/logger';

/** The default structured logger: pino, JSON lines on stdout, level from `SIDEKICK_LOG_LEVEL` (info). */
export function createDefaultLogger(appId: string): SidekickLogger {
  return pino({ name: 'sidekick', level: process.env['SIDEKICK_LOG_LEVEL'] ?? 'info', base: { appId } });
}
