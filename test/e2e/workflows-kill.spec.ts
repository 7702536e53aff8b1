import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/app';
import { ensureBuilt, freePort, ROOT, startNode, waitHealthy } from '../support/processes';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';

/**
 * Crash recovery, with the worker of bench/fixtures/workflow-worker.main.ts (workflow `killable`: 5
 * activities, a durable timer of 1 s and the external event `go`; each activity appends its
 * idempotency key to a file, its side effect):
 * - 10 runs on one SQLite file: in each, an instance starts, the worker is SIGKILLed at a random point
 *   (0 to 2.2 s in), started again, and the instance must finish;
 * - two workers sharing Redis: 10 instances spread over both (events raised through the other one),
 *   one worker SIGKILLed mid-flight; the other adopts its instances once the lease passed;
 * - the same with the worker paused (SIGSTOP) past its lease instead: once woken (SIGCONT) its writes
 *   fail the fence check, it drops its instances, joins again and takes new work.
 * Every instance completes exactly once (one `ExecutionCompleted` in its history) with the right
 * output; every activity's side effect happened at least once (duplicates, allowed by at-least-once,
 * are counted and printed).
 */

const WORKER_JS = join(ROOT, 'dist/bench/fixtures/workflow-worker.main.js');
const WORKER_TS = join(ROOT, 'bench/fixtures/workflow-worker.main.ts');
const RUNS = 10;
const ACTIVITY_STEPS = [0, 1, 2, 4, 5]; // sequence ids: 3 activities, the timer (3), 2 activities

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The output `killable` must give for `seed` and event data `go`. */
function expected(seed: number, go: unknown): { acc: number; go: unknown } {
  let acc = seed;
  for (let step = 1; step <= 5; step++) acc = acc * 2 + step;
  return { acc, go };
}

async function post(url: string, body: unknown): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

/** Polls until every id has ended (through `apiUrl`); the final states. */
async function waitEnded(
  apiUrl: () => string,
  ids: readonly string[],
  timeoutMs: number,
): Promise<Map<string, { runtimeStatus: string; properties: Record<string, string> }>> {
  const deadline = Date.now() + timeoutMs;
  const states = new Map<string, { runtimeStatus: string; properties: Record<string, string> }>();
  while (Date.now() < deadline && states.size < ids.length) {
    for (const id of ids) {
      if (states.has(id)) continue;
      const body = (await (await fetch(`${apiUrl()}/v1.0-beta1/workflows/dapr/${id}`)).json()) as { runtimeStatus: string; properties: Record<string, string> };
      if (!['RUNNING', 'PENDING', 'SUSPENDED'].includes(body.runtimeStatus)) states.set(id, body);
    }
    await sleep(100);
  }
  return states;
}

/** Side effects per `<instance>:<step>` key, from the lines `<key> <worker>`. */
function sideEffects(file: string): { lines: number; perKey: Map<string, number> } {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const perKey = new Map<string, number>();
  for (const line of lines) {
    const key = line.split(' ')[0] ?? '';
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
  }
  return { lines: lines.length, perKey };
}

function report(perKey: Map<string, number>): string {
  const duplicates = [...perKey.entries()].filter(([, n]) => n > 1);
  return `${duplicates.length} of ${perKey.size} activity steps ran more than once${duplicates.length ? ` (${duplicates.map(([k, n]) => `${k}×${n}`).join(', ')})` : ''}`;
}

async function twoWorkers(signal: 'SIGKILL' | 'SIGSTOP'): Promise<void> {
  await requireRedis();
  const run = randomUUID().slice(0, 8);
  const appId = `wfkill2${run}`;
  const leaseMs = 2000;
  const dir = tempDir('sidekick-wf-kill2-');
  const ports = [await freePort(), await freePort()];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const base = { WF_REDIS: redisHostPort(), WF_APP_ID: appId, WF_OUT: join(dir, 'effects.log'), SIDEKICK_WORKFLOW_LEASE_MS: String(leaseMs) };
  const workers = [0, 1].map((w) => startNode(`worker-${w}`, WORKER_JS, { env: { ...base, WF_API_PORT: String(ports[w]), WF_NAME: `worker-${w}` } }));
  const redis = rawRedis();
  const ids = Array.from({ length: RUNS }, (_, i) => `two-${i}`);
  try {
    await redis.connect();
    await Promise.all(workers.map((w, i) => waitHealthy(w, urls[i] ?? '', 30_000)));
    // Even instances start on worker 0, odd on worker 1 (each drives what it starts); events go through the other one.
    for (const [i, id] of ids.entries()) expect(await post(`${urls[i % 2]}/v1.0-beta1/workflows/dapr/killable/start?instanceID=${id}`, i)).toBe(202);
    for (const [i, id] of ids.entries()) expect(await post(`${urls[(i + 1) % 2]}/v1.0-beta1/workflows/dapr/${id}/raiseEvent/go`, { n: i })).toBe(202);
    const meta = async (id: string): Promise<{ owner: string; status: string }> => JSON.parse((await redis.hget(`${appId}||wf-meta:${id}`, 'data')) ?? 'null');
    const killedMember = (await meta('two-0')).owner;
    const survivor = (await meta('two-1')).owner;
    expect(killedMember).not.toBe(survivor);
    await sleep(300 + Math.floor(Math.random() * 1200));
    workers[0]?.child.kill(signal);
    const killedAt = Date.now();
    const unfinished = (await Promise.all(ids.filter((_, i) => i % 2 === 0).map(meta))).filter((m) => m.status !== 'COMPLETED').length;
    // Adoption: the survivor marks the dead member adopted in wf-members (bytes in Redis).
    let adoptedMs = -1;
    while (Date.now() - killedAt < 20_000) {
      const members = JSON.parse((await redis.hget(`${appId}||wf-members`, 'data')) ?? 'null') as {
        members: Record<string, { adoptedBy?: string; adopted?: boolean }>;
      };
      const entry = members.members[killedMember];
      if (entry?.adopted) {
        expect(entry.adoptedBy).toBe(survivor);
        adoptedMs = Date.now() - killedAt;
        break;
      }
      await sleep(25);
    }
    expect(adoptedMs).toBeGreaterThanOrEqual(0);
    if (signal === 'SIGSTOP') {
      // Woken after the adoption: its in-flight writes and its heartbeat find it fenced out.
      workers[0]?.child.kill('SIGCONT');
      await workers[0]?.waitFor('the paused worker to notice it lost its instances', () => (workers[0]?.out ?? '').includes('lost its instances'), 20_000);
    }
    const states = await waitEnded(() => urls[1] ?? '', ids, 40_000);
    for (const [i, id] of ids.entries()) {
      expect(states.get(id)?.runtimeStatus).toBe('COMPLETED');
      expect(JSON.parse(states.get(id)?.properties['dapr.workflow.output'] ?? 'null')).toEqual(expected(i, { n: i }));
    }
    // The killed worker's unfinished instances were finished by the survivor; one completion each.
    for (const id of ids) {
      const record = await meta(id);
      if (record.owner !== survivor) expect(record.owner).toBe(killedMember); // completed before the kill
      const chunks = await redis.keys(`${appId}||wf-h:${id}:*`);
      let completions = 0;
      for (const key of chunks) {
        const events = JSON.parse((await redis.hget(key, 'data')) ?? '[]') as { type: string }[];
        completions += events.filter((e) => e.type === 'ExecutionCompleted').length;
      }
      expect(completions).toBe(1);
    }
    // The status index after the takeover (entries the killed worker wrote moved by the survivor): a listing finds each instance once, COMPLETED.
    const listed = async (status: string): Promise<string[]> => {
      const res = await fetch(`${urls[1] ?? ''}/sidekick/v1.0/workflows?status=${status}&instanceIdPrefix=two-&pageSize=1000`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { instances: { instanceID: string }[] }).instances.map((i) => i.instanceID).sort();
    };
    expect(await listed('COMPLETED')).toEqual([...ids].sort());
    expect(await listed('PENDING,RUNNING,SUSPENDED')).toEqual([]);
    const { lines, perKey } = sideEffects(base.WF_OUT);
    for (const id of ids) for (const s of ACTIVITY_STEPS) expect(perKey.get(`${id}:${s}`) ?? 0).toBeGreaterThanOrEqual(1);
    expect([...perKey.keys()].filter((k) => k.startsWith('two-')).length).toBe(RUNS * 5);
    process.stdout.write(
      `workflows-kill (Redis, 2 workers, ${signal}, lease ${leaseMs} ms): ${unfinished} of the killed worker's 5 instances unfinished at the ${signal}; adopted ${adoptedMs} ms after it; ${lines} side effects for ${RUNS * 5} activity steps; ${report(perKey)}\n`,
    );
    expect(adoptedMs).toBeLessThan(leaseMs * 2 + 3000); // lease + a heartbeat (+ slack for a loaded machine)
    if (signal === 'SIGSTOP') {
      // The woken worker joined again under a new id and drives what it starts.
      await workers[0]?.waitFor('the woken worker to join again', () => (workers[0]?.out.match(/joined the members record/g) ?? []).length >= 2, 20_000);
      expect(await post(`${urls[0]}/v1.0-beta1/workflows/dapr/killable/start?instanceID=after-${run}`, 1)).toBe(202);
      expect(await post(`${urls[0]}/v1.0-beta1/workflows/dapr/after-${run}/raiseEvent/go`, 'late')).toBe(202);
      expect((await waitEnded(() => urls[0] ?? '', [`after-${run}`], 20_000)).get(`after-${run}`)?.runtimeStatus).toBe('COMPLETED');
      const owner = (await meta(`after-${run}`)).owner;
      expect([killedMember, survivor]).not.toContain(owner);
    }
  } finally {
    if (signal === 'SIGSTOP') workers[0]?.child.kill('SIGCONT');
    await Promise.all(workers.map((w) => w.stop()));
    const keys = await redis.keys(`${appId}||*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
}

describe('workflows survive SIGKILL of the worker', () => {
  beforeAll(async () => {
    // ensureBuilt watches src, libs and samples; an edited fixture makes its own output stale.
    if (existsSync(WORKER_JS) && statSync(WORKER_JS).mtimeMs < statSync(WORKER_TS).mtimeMs) rmSync(WORKER_JS);
    await ensureBuilt([WORKER_JS]);
  }, 180_000);

  it(`${RUNS} runs on SQLite, each killed at a random point and restarted: each instance completes exactly once`, async () => {
    const dir = tempDir('sidekick-wf-kill-');
    const port = await freePort();
    const apiUrl = `http://127.0.0.1:${port}`;
    const env = { WF_DB: join(dir, 'wf.db'), WF_OUT: join(dir, 'effects.log'), WF_API_PORT: String(port), SIDEKICK_WORKFLOW_LEASE_MS: '1500' };
    let worker = startNode('worker-0', WORKER_JS, { env: { ...env, WF_NAME: 'worker-0' } });
    const stepsDoneAtKill: number[] = [];
    try {
      await waitHealthy(worker, apiUrl, 30_000);
      for (let run = 0; run < RUNS; run++) {
        const id = `kill-${run}`;
        expect(await post(`${apiUrl}/v1.0-beta1/workflows/dapr/killable/start?instanceID=${id}`, run)).toBe(202);
        expect(await post(`${apiUrl}/v1.0-beta1/workflows/dapr/${id}/raiseEvent/go`, { n: run })).toBe(202);
        await sleep(Math.floor(Math.random() * 2200));
        worker.child.kill('SIGKILL');
        await worker.exited;
        stepsDoneAtKill.push(existsSync(env.WF_OUT) ? sideEffects(env.WF_OUT).perKey.size - run * 5 : 0);
        worker = startNode(`worker-${run + 1}`, WORKER_JS, { env: { ...env, WF_NAME: `worker-${run + 1}` } });
        await waitHealthy(worker, apiUrl, 30_000);
        const state = (await waitEnded(() => apiUrl, [id], 30_000)).get(id);
        expect(state?.runtimeStatus).toBe('COMPLETED');
        expect(JSON.parse(state?.properties['dapr.workflow.output'] ?? 'null')).toEqual(expected(run, { n: run }));
      }
    } finally {
      await worker.stop();
    }
    // Exactly one completion per instance in the recorded history.
    const db = new Database(env.WF_DB, { readonly: true });
    try {
      const rows = db.prepare(`SELECT key, value FROM state WHERE key LIKE 'wfkill||wf-h:%'`).all() as { key: string; value: Buffer }[];
      const completions = new Map<string, number>();
      for (const row of rows) {
        const id = row.key.split(':')[1] ?? '';
        const events = JSON.parse(row.value.toString('utf8')) as { type: string }[];
        completions.set(id, (completions.get(id) ?? 0) + events.filter((e) => e.type === 'ExecutionCompleted').length);
      }
      expect([...completions.values()]).toEqual(Array.from({ length: RUNS }, () => 1));
    } finally {
      db.close();
    }
    const { lines, perKey } = sideEffects(env.WF_OUT);
    for (let run = 0; run < RUNS; run++) for (const s of ACTIVITY_STEPS) expect(perKey.get(`kill-${run}:${s}`) ?? 0).toBeGreaterThanOrEqual(1);
    expect(perKey.size).toBe(RUNS * 5);
    process.stdout.write(
      `workflows-kill (SQLite, ${RUNS} runs): activities started when killed: ${stepsDoneAtKill.join(', ')}; ${lines} side effects for ${RUNS * 5} activity steps; ${report(perKey)}\n`,
    );
    expect(stepsDoneAtKill.some((n) => n < 5)).toBe(true); // at least one kill hit an instance mid-flight
  }, 150_000);

  it('two workers on Redis: one is SIGKILLed mid-flight, the other adopts its instances within the lease and completes each once', async () => {
    await twoWorkers('SIGKILL');
  }, 90_000);

  it('two workers on Redis: one is paused (SIGSTOP) past its lease; woken, it cannot write what the other adopted, and joins again', async () => {
    await twoWorkers('SIGSTOP');
  }, 90_000);
});
