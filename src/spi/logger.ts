/** The logging surface components and the runtime write to (pino-compatible). */
export interface SidekickLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): SidekickLogger;
}
