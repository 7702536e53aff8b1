import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { tempDir } from '../support/app';
import { ensureBuilt, freePort, type Proc, ROOT, startNode, waitHealthy } from '../support/processes';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

/**
 * Shared activities (`workflows.activities: 'shared'`), with two workers of
 * bench/fixtures/workflow-worker.main.ts sharing Redis: workflow `fanout` (40 activities `square` at
 * once, each appending `<idempotencyKey> <worker>` to a file before it waits) started on worker A.
 * - With both alive: the side effects show steps run on A and on B; the output is right; each step has
 *   one result in the history.
 * - B SIGKILLed while it runs its share (its lines are in the file, its results not sent): A runs
 *   those steps again once B left the members and completes; duplicates are counted and printed.
 * - A (the driving process) SIGKILLed while B runs its share: B adopts the instance, runs the steps
 *   without a recorded result again, and completes it; each step's result recorded once.
 */

const WORKER_JS = join(ROOT, 'dist/bench/fixtures/workflow-worker.main.js');
const WORKER_TS = join(ROOT, 'bench/fixtures/workflow-worker.main.ts');
const N = 40;
const SUM = Array.from({ length: N }, (_, i) => i * i).reduce((a, b) => a + b, 0);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function start(apiUrl: string, id: string, input: unknown): Promise<number> {
  const res = await fetch(`${apiUrl}/v1.0-beta1/workflows/dapr/fanout/start?instanceID=${id}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  await res.arrayBuffer();
  return res.status;
}

async function waitEnded(apiUrl: string, id: string, timeoutMs: number): Promise<{ runtimeStatus: string; properties: Record<string, string> }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = (await (await fetch(`${apiUrl}/v1.0-beta1/workflows/dapr/${id}`)).json()) as { runtimeStatus: string; properties: Record<string, string> };
    if (!['RUNNING', 'PENDING', 'SUSPENDED'].includes(body.runtimeStatus) || Date.now() > deadline) return body;
    await sleep(100);
  }
}

/** Side effect lines of instance `id`: worker per line, and runs per step key. */
function effects(file: string, id: string): { workers: Map<string, number>; perKey: Map<string, number>; lines: number } {
  const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  const workers = new Map<string, number>();
  const perKey = new Map<string, number>();
  let count = 0;
  for (const line of lines) {
    const [key = '', worker = ''] = line.split(' ');
    if (!key.startsWith(`${id}:`)) continue;
    count++;
    workers.set(worker, (workers.get(worker) ?? 0) + 1);
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
  }
  return { workers, perKey, lines: count };
}

/** Results recorded per step in the instance's history (bytes in Redis), and the completions. */
async function recorded(redis: Redis, appId: string, id: string): Promise<{ results: Map<number, number>; completions: number }> {
  const results = new Map<number, number>();
  let completions = 0;
  for (const key of await redis.keys(`${appId}||wf-h:${id}:*`)) {
    const events = JSON.parse((await redis.hget(key, 'data')) ?? '[]') as { type: string; taskId?: number }[];
    for (const e of events) {
      if (e.type === 'ExecutionCompleted') completions++;
      if ((e.type === 'TaskCompleted' || e.type === 'TaskFailed') && e.taskId !== undefined) results.set(e.taskId, (results.get(e.taskId) ?? 0) + 1);
    }
  }
  return { results, completions };
}

/** Two workers (A, B) of one app id sharing Redis with shared activities, both ready and seen alive by each other. */
interface Pair {
  readonly appId: string;
  readonly leaseMs: number;
  readonly out: string;
  readonly urls: readonly string[];
  readonly workers: readonly Proc[];
  readonly redis: Redis;
}

async function startPair(appId: string, tmpPrefix: string): Promise<Pair> {
  const leaseMs = 1500;
  const out = join(tempDir(tmpPrefix), 'effects.log');
  const ports = [await freePort(), await freePort()];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const base = { WF_REDIS: redisHostPort(), WF_APP_ID: appId, WF_OUT: out, WF_ACTIVITIES: 'shared', SIDEKICK_WORKFLOW_LEASE_MS: String(leaseMs) };
  const names = ['worker-A', 'worker-B'];
  const workers = [0, 1].map((w) => startNode(names[w] ?? '', WORKER_JS, { env: { ...base, WF_API_PORT: String(ports[w]), WF_NAME: names[w] ?? '' } }));
  const pair = { appId, leaseMs, out, urls, workers, redis: rawRedis() };
  try {
    await pair.redis.connect();
    await Promise.all(workers.map((w, i) => waitHealthy(w, urls[i] ?? '', 30_000)));
    // Both in the members record, and a heartbeat of A since (it hands work only to members it saw alive).
    const deadline = Date.now() + 10_000;
    for (;;) {
      const rec = JSON.parse((await pair.redis.hget(`${appId}||wf-members`, 'data')) ?? '{"members":{}}') as { members: Record<string, { until: number }> };
      if (Object.values(rec.members).filter((m) => m.until > Date.now()).length >= 2 || Date.now() > deadline) break;
      await sleep(50);
    }
    await sleep(leaseMs / 3 + 300);
    return pair;
  } catch (err) {
    await stopPair(pair);
    throw err;
  }
}

async function stopPair(pair: Pair): Promise<void> {
  await Promise.all(pair.workers.map((w) => w.stop()));
  const keys = await pair.redis.keys(`${pair.appId}||*`);
  if (keys.length > 0) await pair.redis.del(...keys);
  pair.redis.disconnect();
}

/** The instance completed once, and its history holds exactly one result for each of the N steps. */
async function expectEachStepRecordedOnce(pair: Pair, id: string): Promise<void> {
  const history = await recorded(pair.redis, pair.appId, id);
  expect(history.completions).toBe(1);
  expect(history.results.size).toBe(N);
  expect([...history.results.values()].every((n) => n === 1)).toBe(true);
}

describe("shared activities (workflows.activities: 'shared') between two processes", () => {
  beforeAll(async () => {
    if (existsSync(WORKER_JS) && statSync(WORKER_JS).mtimeMs < statSync(WORKER_TS).mtimeMs) rmSync(WORKER_JS);
    await ensureBuilt([WORKER_JS]);
  }, 180_000);

  it('a fan-out started on A runs on A and B; with B SIGKILLed mid-fan-out, A runs its steps again and completes', async () => {
    await requireRedis();
    const run = randomUUID().slice(0, 8);
    const pair = await startPair(`wfact${run}`, 'sidekick-wf-act-');
    const { leaseMs, out, workers } = pair;
    const [a = ''] = pair.urls;
    try {
      // 1. Both alive: the steps are spread over A and B.
      expect(await start(a, `spread-${run}`, { n: N, ms: 50 })).toBe(202);
      const spread = await waitEnded(a, `spread-${run}`, 30_000);
      expect(spread.runtimeStatus).toBe('COMPLETED');
      expect(JSON.parse(spread.properties['dapr.workflow.output'] ?? 'null')).toBe(SUM);
      const first = effects(out, `spread-${run}`);
      expect(first.perKey.size).toBe(N);
      expect(first.workers.get('worker-A') ?? 0).toBeGreaterThan(0);
      expect(first.workers.get('worker-B') ?? 0).toBeGreaterThan(0);
      await expectEachStepRecordedOnce(pair, `spread-${run}`);

      // 2. B killed while it runs its share (each step waits 3 s after its side effect).
      const id = `killed-${run}`;
      expect(await start(a, id, { n: N, ms: 3000 })).toBe(202);
      const until = Date.now() + 15_000;
      while ((effects(out, id).workers.get('worker-B') ?? 0) === 0 && Date.now() < until) await sleep(25);
      const onB = effects(out, id).workers.get('worker-B') ?? 0;
      expect(onB).toBeGreaterThan(0);
      workers[1]?.child.kill('SIGKILL');
      const killedAt = Date.now();
      const ended = await waitEnded(a, id, 30_000);
      const tookMs = Date.now() - killedAt;
      expect(ended.runtimeStatus).toBe('COMPLETED');
      expect(JSON.parse(ended.properties['dapr.workflow.output'] ?? 'null')).toBe(SUM);
      const second = effects(out, id);
      expect(second.perKey.size).toBe(N);
      await expectEachStepRecordedOnce(pair, id);
      const duplicates = [...second.perKey.values()].filter((n) => n > 1).length;
      expect(duplicates).toBeGreaterThan(0); // B's steps in flight ran again on A (at least once)
      process.stdout.write(
        `workflows-activities (Redis, 2 workers, lease ${leaseMs} ms): fan-out of ${N} with both alive: ${first.workers.get('worker-A') ?? 0} steps ran on A, ${first.workers.get('worker-B') ?? 0} on B; ` +
          `with B SIGKILLed: ${onB} steps had started on B, ${second.lines} side effects for ${N} steps, ${duplicates} steps ran more than once, completed ${tookMs} ms after the kill\n`,
      );
    } finally {
      workers[1]?.child.kill('SIGKILL');
      await stopPair(pair);
    }
  }, 90_000);

  it('with the driving process A SIGKILLed while B runs its share, B adopts the instance and completes it', async () => {
    await requireRedis();
    const run = randomUUID().slice(0, 8);
    const pair = await startPair(`wfact2${run}`, 'sidekick-wf-act2-');
    const { leaseMs, out, workers } = pair;
    const [a = '', b = ''] = pair.urls;
    try {
      const id = `owner-killed-${run}`;
      expect(await start(a, id, { n: N, ms: 2000 })).toBe(202);
      const until = Date.now() + 15_000;
      while ((effects(out, id).workers.get('worker-B') ?? 0) === 0 && Date.now() < until) await sleep(25);
      const onB = effects(out, id).workers.get('worker-B') ?? 0;
      expect(onB).toBeGreaterThan(0);
      workers[0]?.child.kill('SIGKILL');
      const killedAt = Date.now();
      const ended = await waitEnded(b, id, 30_000);
      const tookMs = Date.now() - killedAt;
      expect(ended.runtimeStatus).toBe('COMPLETED');
      expect(JSON.parse(ended.properties['dapr.workflow.output'] ?? 'null')).toBe(SUM);
      const after = effects(out, id);
      expect(after.perKey.size).toBe(N);
      await expectEachStepRecordedOnce(pair, id);
      const duplicates = [...after.perKey.values()].filter((n) => n > 1).length;
      process.stdout.write(
        `workflows-activities (Redis, owner SIGKILLed, lease ${leaseMs} ms): ${onB} steps had started on B; B adopted and completed ${tookMs} ms after the kill; ${after.lines} side effects for ${N} steps, ${duplicates} steps ran more than once\n`,
      );
    } finally {
      workers[0]?.child.kill('SIGKILL');
      await stopPair(pair);
    }
  }, 90_000);
});
