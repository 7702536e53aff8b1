import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/app';
import { ensureBuilt, freePort, type Proc, ROOT, startNode, waitHealthy } from '../support/processes';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

/**
 * samples/07-config-and-lock as a user runs it: two processes of the same app on Redis. The feature
 * flag is changed with redis-cli and read back through each process's `GET /flag`; the cron-scheduled
 * job, guarded by the lock, is followed through the processes' log lines (start/end times and
 * fencing tokens), then one process is stopped and the other must take the job over.
 */

const SAMPLE = join(ROOT, 'samples/07-config-and-lock');
const MAIN_JS = join(ROOT, 'dist/samples/07-config-and-lock/src/main.js');

// Unique per run: the app id prefixes the lock, fence and state keys; the flag is a raw Redis key.
const RUN = randomUUID().slice(0, 8);
const APP_ID = `sample07-${RUN}`;
const FLAG_KEY = `sample07-${RUN}.report.detailed`;

interface App {
  readonly proc: Proc;
  readonly url: string;
}

const apps: App[] = [];

/** The sample's components, copied with the test's Redis address when it is not the sample's. */
function components(): string {
  const folder = join(SAMPLE, 'components');
  const to = redisHostPort();
  if (to === '127.0.0.1:6379') return folder;
  const copy = tempDir('sidekick-sample07-');
  for (const file of readdirSync(folder))
    writeFileSync(join(copy, file), readFileSync(join(folder, file), 'utf8').replace('value: 127.0.0.1:6379', `value: ${to}`));
  return copy;
}

async function startApp(name: string, resources: string): Promise<App> {
  const dir = tempDir('sidekick-sample07-app-');
  const port = await freePort();
  const apiPort = await freePort();
  const proc = startNode(name, MAIN_JS, {
    env: {
      PORT: String(port),
      SIDEKICK_HTTP_PORT: String(apiPort),
      SIDEKICK_METRICS_PORT: String(await freePort()),
      SIDEKICK_RESOURCES_PATH: resources,
      SIDEKICK_REGISTRY_DIR: join(dir, 'registry'),
      SIDEKICK_DATA_DIR: join(dir, 'data'),
      APP_ID,
      FLAG_KEY,
      JOB_DURATION_MS: '1500',
    },
  });
  const app = { proc, url: `http://127.0.0.1:${port}` };
  apps.push(app);
  await waitHealthy(proc, `http://127.0.0.1:${apiPort}`);
  await proc.waitFor('the app to listen', () => /listening on http/.test(proc.out), 10_000);
  return app;
}

/** `redis-cli -h host -p port args...`, as the README tells the user to type it. */
function redisCli(...args: string[]): Promise<string> {
  const [host = '127.0.0.1', port = '6379'] = redisHostPort().split(':');
  return new Promise((ok, fail) =>
    execFile('redis-cli', ['-h', host, '-p', port, ...args], (err, stdout, stderr) =>
      err ? fail(new Error(`redis-cli ${args.join(' ')} failed: ${err.message} ${stderr}`)) : ok(stdout.trim()),
    ),
  );
}

interface FlagState {
  key: string;
  value: string | null;
  version: string | null;
  enabled: boolean;
}

async function flagOf(app: App): Promise<FlagState> {
  const res = await fetch(`${app.url}/flag`);
  expect(res.status).toBe(200);
  return (await res.json()) as FlagState;
}

/** Polls every app's `GET /flag` until each shows `expected`; answers how long that took (ms) after `since`. */
async function seenByAll(expected: FlagState, since: number, timeoutMs: number): Promise<number> {
  const deadline = since + timeoutMs;
  let last: FlagState[] = [];
  for (;;) {
    last = await Promise.all(apps.map(flagOf));
    const elapsed = Date.now() - since;
    if (last.every((s) => JSON.stringify(s) === JSON.stringify(expected))) return elapsed;
    if (Date.now() > deadline) throw new Error(`after ${elapsed} ms the apps still show ${JSON.stringify(last)}, not ${JSON.stringify(expected)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Run {
  readonly app: string;
  readonly token: number;
  readonly start: number;
  /** Infinity while the run is still going. */
  readonly end: number;
}

/** The job's runs as one process logged them: `started: fencingToken=N ... t=<ms>` / `finished: fencingToken=N t=<ms>`. */
function runsOf(proc: Proc): Run[] {
  const ends = new Map<number, number>();
  for (const m of proc.out.matchAll(/\[report-job\] finished: fencingToken=(\d+) t=(\d+)/g)) ends.set(Number(m[1]), Number(m[2]));
  return [...proc.out.matchAll(/\[report-job\] started: fencingToken=(\d+) detailed=\w+ t=(\d+)/g)].map((m) => ({
    app: proc.name,
    token: Number(m[1]),
    start: Number(m[2]),
    end: ends.get(Number(m[1])) ?? Infinity,
  }));
}

const skips = (proc: Proc): number => proc.matches(/\[report-job\] (skipped): the lock/g).length;
const allRuns = (): Run[] => apps.flatMap((a) => runsOf(a.proc)).sort((a, b) => a.start - b.start);

beforeAll(async () => {
  await requireRedis();
  await ensureBuilt([MAIN_JS]);
  // Set before start-up: the app reads it with configuration.get at bootstrap.
  await redisCli('SET', FLAG_KEY, 'off||1');
  const resources = components();
  await startApp('process-A', resources);
  await startApp('process-B', resources);
}, 240_000);

afterAll(async () => {
  await Promise.all(apps.map((a) => a.proc.stop()));
  const redis = rawRedis();
  try {
    await redis.connect();
    const keys = [FLAG_KEY, ...(await redis.keys(`*${APP_ID}*`))];
    await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
});

describe('samples/07-config-and-lock: the feature flag, changed live with redis-cli', () => {
  it('each process read the flag at start-up', async () => {
    for (const app of apps) {
      expect(await flagOf(app)).toEqual({ key: FLAG_KEY, value: 'off', version: '1', enabled: false });
      expect(app.proc.out).toContain(`Feature flag ${FLAG_KEY} is off (value "off", version 1) at start-up`);
    }
  });

  it('redis-cli SET turns it on in both processes within 1 s, and each logs the change', async () => {
    await redisCli('SET', FLAG_KEY, 'on||2');
    const elapsed = await seenByAll({ key: FLAG_KEY, value: 'on', version: '2', enabled: true }, Date.now(), 1000);
    expect(elapsed).toBeLessThanOrEqual(1000);
    console.log(`redis-cli SET seen through GET /flag of both processes after ${elapsed} ms`);
    for (const app of apps) {
      expect(app.proc.out).toContain(`Feature flag ${FLAG_KEY} changed: off (value "off", version 1) -> on (value "on", version 2)`);
    }
  });

  it('redis-cli DEL turns it off (not set) within 1 s', async () => {
    await redisCli('DEL', FLAG_KEY);
    await seenByAll({ key: FLAG_KEY, value: null, version: null, enabled: false }, Date.now(), 1000);
    for (const app of apps) expect(app.proc.out).toContain(`Feature flag ${FLAG_KEY} changed: on (value "on", version 2) -> off (not set)`);
    await redisCli('SET', FLAG_KEY, 'on||3'); // the job's runs below report detailed=on
    await seenByAll({ key: FLAG_KEY, value: 'on', version: '3', enabled: true }, Date.now(), 5000);
  });
});

describe('samples/07-config-and-lock: the job guarded by the lock in two processes', () => {
  it('of two POST /report at once, at most one runs the job (201) and the other is refused with 409 (both are while a cron run holds the lock)', async () => {
    const [a] = apps;
    if (!a) throw new Error('no app');
    const answers = await Promise.all(
      [1, 2].map(async () => {
        const res = await fetch(`${a.url}/report`, { method: 'POST' });
        return `${res.status} ${await res.text()}`;
      }),
    );
    const statuses = answers.map((text) => Number(text.slice(0, 3)));
    expect({ answers, ok: statuses.filter((s) => s === 201).length <= 1 && statuses.includes(409) && statuses.every((s) => s === 201 || s === 409) }).toEqual({
      answers,
      ok: true,
    });
  }, 30_000);

  it('the cron ticks in both processes, the job runs in one at a time, and the loser of a tick is refused', async () => {
    const [a, b] = apps;
    if (!a || !b) throw new Error('no apps');
    const enough = (): boolean => allRuns().filter((r) => r.end !== Infinity).length >= 3 && skips(a.proc) + skips(b.proc) >= 1;
    const deadline = Date.now() + 60_000;
    while (!enough()) {
      if (Date.now() > deadline) throw new Error(`too few runs or no refusal after 60 s\n${a.proc.describe()}\n${b.proc.describe()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Hand the job over: stop a process that has run it; the other must take the next tick.
    const ran = runsOf(a.proc).length > 0 ? a : b;
    const other = ran === a ? b : a;
    const exit = await ran.proc.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    const stoppedAt = Date.now();
    await other.proc.waitFor(
      'the other process to run the job after the first stopped',
      () => runsOf(other.proc).some((r) => r.start >= stoppedAt && r.end !== Infinity),
      30_000,
    );

    const runs = allRuns();
    expect(new Set(runs.map((r) => r.app))).toEqual(new Set(['process-A', 'process-B']));
    for (let i = 1; i < runs.length; i++) {
      const [prev, next] = [runs[i - 1], runs[i]];
      if (!prev || !next) continue;
      // Never concurrent: each run ended before the next one (in either process) started.
      expect(prev.end).toBeLessThanOrEqual(next.start);
      // Fencing tokens grow with every grant, across both processes.
      expect(next.token).toBeGreaterThan(prev.token);
    }
    expect(other.proc.out).toMatch(/\[report-job\] started: fencingToken=\d+ detailed=on t=/);
  }, 120_000);

  it('GET /report and the bytes in Redis hold the newest run, written with its fencing token', async () => {
    const last = allRuns()
      .filter((r) => r.end !== Infinity)
      .at(-1);
    const other = apps.find((a) => a.proc.running);
    if (!last || !other) throw new Error('no finished run or no running process');
    const res = await fetch(`${other.url}/report`);
    expect(res.status).toBe(200);
    const report = (await res.json()) as { fencingToken: string; detailed: boolean };
    // A later run may have finished meanwhile; never an older one.
    expect(Number(report.fencingToken)).toBeGreaterThanOrEqual(last.token);
    expect(report.detailed).toBe(true);

    const redis = rawRedis();
    try {
      await redis.connect();
      // daprd's state.redis layout: a hash {data, version} under `<app id>||<key>`; the fence record beside it.
      const stored = JSON.parse((await redis.hget(`${APP_ID}||last-report`, 'data')) ?? 'null') as { fencingToken: string } | null;
      expect(Number(stored?.fencingToken)).toBeGreaterThanOrEqual(last.token);
      expect(await redis.exists(`${APP_ID}||sidekick-fence||last-report`)).toBe(1);
      // The lock's fencing counter: one grant per run, at least.
      expect(Number(await redis.get(`sidekick-fence||lock||${APP_ID}||report-job`))).toBeGreaterThanOrEqual(last.token);
    } finally {
      redis.disconnect();
    }
  });
});
