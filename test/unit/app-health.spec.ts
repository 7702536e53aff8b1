import { AppHealthClosedError, AppHealthMonitor } from '../../src/runtime/app-channel/app-health';
import type { SidekickLogger } from '../../src/spi/logger';

/** A logger that keeps the messages it was given. */
function recordingLogger(): { logger: SidekickLogger; lines: string[] } {
  const lines: string[] = [];
  const log = (_obj: object, msg?: string): void => {
    lines.push(msg ?? '');
  };
  const logger = { debug: log, info: log, warn: log, error: log, child: () => logger } as unknown as SidekickLogger;
  return { logger, lines };
}

const settings = { path: '/healthz', intervalMs: 5, timeoutMs: 50, threshold: 3 };

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('threshold failures in a row make the app unhealthy, one success healthy again; waiters are released then', async () => {
  const answers: (string | undefined)[] = [undefined, 'down', 'down', undefined, 'down', 'down', 'down'];
  let calls = 0;
  const { logger, lines } = recordingLogger();
  const monitor = new AppHealthMonitor(settings, () => Promise.resolve(calls < answers.length ? answers[calls++] : (calls++, 'down')), logger, 'app');
  const changes: { healthy: boolean; atProbe: number }[] = [];
  monitor.onChange((healthy) => changes.push({ healthy, atProbe: calls }));
  expect(monitor.whenHealthy()).toBeUndefined();
  monitor.start();
  await until('the unhealthy transition', () => changes.length === 1);
  // Two failures then a success stay below the threshold: only the third failure in a row (probe 7) counts.
  expect(changes).toEqual([{ healthy: false, atProbe: 7 }]);
  expect(monitor.isHealthy).toBe(false);
  expect(lines.some((l) => l.startsWith('the app is unhealthy'))).toBe(true);
  const waiting = monitor.whenHealthy();
  expect(waiting).toBeInstanceOf(Promise);
  await monitor.stop();
  await expect(waiting).rejects.toBeInstanceOf(AppHealthClosedError);
});

test('a waiting delivery resumes when a probe succeeds', async () => {
  let healthy = false;
  const { logger, lines } = recordingLogger();
  const monitor = new AppHealthMonitor({ ...settings, threshold: 1 }, () => Promise.resolve(healthy ? undefined : 'down'), logger, 'app');
  monitor.start();
  await until('unhealthy', () => !monitor.isHealthy);
  let resumed = false;
  const waiting = monitor.whenHealthy()?.then(() => (resumed = true));
  await new Promise((r) => setTimeout(r, 30));
  expect(resumed).toBe(false);
  healthy = true;
  await waiting;
  expect(resumed).toBe(true);
  expect(monitor.isHealthy).toBe(true);
  expect(lines.filter((l) => l.startsWith('the app is healthy again'))).toHaveLength(1);
  await monitor.stop();
});

test('a probe that throws counts as a failure', async () => {
  const { logger } = recordingLogger();
  const monitor = new AppHealthMonitor({ ...settings, threshold: 2 }, () => Promise.reject(new Error('ECONNREFUSED')), logger, 'app');
  monitor.start();
  await until('unhealthy', () => !monitor.isHealthy);
  await monitor.stop();
});
