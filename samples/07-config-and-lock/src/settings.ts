/** The component names (`metadata.name` in components/*.yaml). */
export const CONFIG_STORE = 'configstore';
export const LOCK_STORE = 'lockstore';
export const STATE_STORE = 'statestore';
export const SCHEDULE_BINDING = 'report-schedule';

/** The app id: both processes use the same one, so they share the lock `lock||<app id>||report-job`. */
export const APP_ID = process.env['APP_ID'] || 'config-and-lock';

/** The feature flag: a key of the configuration store, `on` or anything else (off). */
export const FLAG_KEY = process.env['FLAG_KEY'] || 'report.detailed';

/** The lock resource the report job runs under. */
export const JOB_RESOURCE = 'report-job';

/** How long one run of the report job works while holding the lock (ms). */
export const JOB_DURATION_MS = envInt('JOB_DURATION_MS', 2500);

/** A non-negative integer from the environment, or `fallback`. */
export function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name}="${text}" is not a non-negative integer`);
  return value;
}
