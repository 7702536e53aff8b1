import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import type { WorkflowClient } from '../../src/runtime/blocks/workflows/workflow.client';
import type { WorkflowState } from '../../src/runtime/blocks/workflows/workflow.types';
import { SidekickClient } from '../../src/runtime/sidekick.client';
import { VirtualClock } from '../../src/testing';
import { startApp, tempDir, type TestApp } from '../support/app';
import { postgresUrl, rawRedis, redisHostPort, requirePostgres, requireRedis } from '../support/services';
import { allPages, app, type Component, http, ids, marks, QuickWorkflow, sqlite, START, waitFor } from '../support/workflow-phases';

const RUN = randomUUID().slice(0, 8);

/**
 * One instance in each phase, then what `list` and `get` report for each status, by name, by
 * creation time, in pages; a scheduled instance PENDING until its time; purge drops it from the index.
 */
async function phasesIn(component: Component, appId: string): Promise<void> {
  const clock = new VirtualClock(START);
  const t = await app(component, clock, appId);
  try {
    const wf = t.app.get(SidekickClient).workflows;
    const p = `${appId}-`;
    await wf.schedule('phases', { instanceId: `${p}pending`, startAt: new Date(START + 3_600_000) });
    await clock.advance(1000);
    for (const name of ['running', 'suspended', 'completed', 'failed', 'terminated']) {
      await wf.schedule('phases', { instanceId: `${p}${name}`, input: name === 'failed' ? 'fail' : 'ok' });
      await wf.waitForStart(`${p}${name}`);
      await clock.advance(1000); // distinct creation times, one second apart
    }
    await wf.schedule('other', { instanceId: `${p}other` });
    await wf.suspend(`${p}suspended`);
    await wf.raiseEvent(`${p}completed`, 'go');
    await wf.raiseEvent(`${p}failed`, 'go');
    await wf.terminate(`${p}terminated`, 'stopped');
    await wf.waitForCompletion(`${p}completed`);
    await wf.waitForCompletion(`${p}failed`);

    const expected: Record<string, string> = {
      PENDING: 'pending',
      RUNNING: 'running',
      SUSPENDED: 'suspended',
      COMPLETED: 'completed',
      FAILED: 'failed',
      TERMINATED: 'terminated',
    };
    for (const [status, name] of Object.entries(expected)) {
      const page = await wf.list({ status: [status as WorkflowState['status']], name: 'phases' });
      expect({ status, ids: ids(page) }).toEqual({ status, ids: [`${p}${name}`] });
      expect(page.continuationToken).toBeUndefined();
      expect(page.instances[0]?.status).toBe(status);
      expect((await wf.get(`${p}${name}`))?.status).toBe(status);
    }
    const pending = (await wf.list({ status: 'PENDING' })).instances[0];
    expect(pending).toMatchObject({ instanceId: `${p}pending`, name: 'phases', status: 'PENDING', scheduledStartAt: START + 3_600_000, createdAt: START });
    expect(await wf.get(`${p}pending`)).toMatchObject({ status: 'PENDING', scheduledStartAt: START + 3_600_000 });
    expect(marks.get(`${p}pending`)).toBeUndefined(); // its code has not run
    const done = (await wf.list({ status: ['COMPLETED', 'FAILED', 'TERMINATED'] })).instances;
    expect(done.map((s) => [s.instanceId, s.status, s.output ?? s.failure?.message])).toEqual([
      [`${p}completed`, 'COMPLETED', 'done'],
      [`${p}failed`, 'FAILED', 'told to fail'],
      [`${p}terminated`, 'TERMINATED', 'stopped'],
    ]);

    // all statuses, by creation time; two names; an id prefix
    const everything = [`${p}pending`, `${p}running`, `${p}suspended`, `${p}completed`, `${p}failed`, `${p}terminated`, `${p}other`];
    expect(ids(await wf.list())).toEqual(everything);
    expect(ids(await wf.list({ name: 'other' }))).toEqual([`${p}other`]);
    expect(ids(await wf.list({ instanceIdPrefix: `${p}s` }))).toEqual([`${p}suspended`]);
    expect(ids(await wf.list({ instanceIdPrefix: 'nobody-' }))).toEqual([]);
    // creation time: running at START+1s ... terminated at START+5s; both bounds included
    expect(ids(await wf.list({ createdFrom: new Date(START + 2000), createdTo: new Date(START + 4000) }))).toEqual([
      `${p}suspended`,
      `${p}completed`,
      `${p}failed`,
    ]);
    expect(ids(await wf.list({ createdFrom: START + 2000, createdTo: new Date(START + 4000).toISOString(), status: ['RUNNING', 'FAILED'] }))).toEqual([
      `${p}failed`,
    ]);

    // pages of 3: 7 instances → 3 pages; the last has no token
    const paged = await allPages(wf, { pageSize: 3 });
    expect(paged.pages).toEqual([everything.slice(0, 3), everything.slice(3, 6), everything.slice(6)]);
    expect(paged.tokens).toBe(2);
    const exact = await allPages(wf, { pageSize: 7 });
    expect(exact.pages).toEqual([everything]);

    // the scheduled instance starts on time, and leaves PENDING in the index
    await clock.advance(3_600_000 - 6000 - 1);
    expect((await wf.get(`${p}pending`))?.status).toBe('PENDING');
    await clock.advance(1);
    expect((await wf.waitForStart(`${p}pending`)).status).toBe('RUNNING');
    expect(marks.get(`${p}pending`)).toBe(1);
    expect(ids(await wf.list({ status: 'PENDING' }))).toEqual([]);
    expect(ids(await wf.list({ status: 'RUNNING', name: 'phases' }))).toEqual([`${p}pending`, `${p}running`]);

    // resume moves it back; purge takes it out of the index
    await wf.resume(`${p}suspended`);
    expect(ids(await wf.list({ status: 'SUSPENDED' }))).toEqual([]);
    await wf.purge(`${p}completed`);
    expect(ids(await wf.list({ status: 'COMPLETED' }))).toEqual([]);
    expect(await wf.get(`${p}completed`)).toBeUndefined();
    for (const id of [`${p}pending`, `${p}running`, `${p}suspended`, `${p}other`]) await wf.terminate(id);
    await waitFor(async () => (await wf.list({ status: ['RUNNING', 'SUSPENDED', 'PENDING'] })).instances.length === 0);
    expect(ids(await wf.list({ status: 'TERMINATED' }))).toEqual([`${p}pending`, `${p}running`, `${p}suspended`, `${p}terminated`, `${p}other`]);
  } finally {
    await t.close();
  }
}

describe('workflow listing by status and scheduled starts', () => {
  it('SQLite: list and get report each phase; pages, names, creation times; a scheduled start', async () => {
    await phasesIn(sqlite(join(tempDir(), 'query.db')), `wfqlite${RUN}`);
  });

  it('memory: the same', async () => {
    await phasesIn({ metadata: { name: 'statestore' }, spec: { type: 'state.in-memory', version: 'v1', metadata: [] } }, `wfqmem${RUN}`);
  });

  it('Redis: the same; the index is hashes next to the records', async () => {
    await requireRedis();
    const appId = `wfqredis${RUN}`;
    await phasesIn(
      { metadata: { name: 'statestore' }, spec: { type: 'state.redis', version: 'v1', metadata: [{ name: 'redisHost', value: redisHostPort() }] } },
      appId,
    );
    const redis = rawRedis();
    try {
      await redis.connect();
      const id = `${appId}-terminated`;
      const read = async (key: string): Promise<any> => JSON.parse((await redis.hget(`${appId}||${key}`, 'data')) ?? 'null');
      const [status, page] = await read(`wf-ixl:${id}`);
      expect(status).toBe('TERMINATED');
      expect(await read('wf-ix:TERMINATED')).toContain(page);
      expect((await read(`wf-ix:TERMINATED:${page}`))[id]).toEqual([START + 5000, 'phases']);
      // emptied pages are deleted, except the app's open page of each status (empty now for the active ones)
      for (const s of ['PENDING', 'RUNNING', 'SUSPENDED', 'COMPLETED']) {
        const pages: string[] = (await read(`wf-ix:${s}`)) ?? [];
        for (const p of pages) expect({ s, entries: await read(`wf-ix:${s}:${p}`) }).toEqual({ s, entries: {} });
      }
      await redis.del(...(await redis.keys(`${appId}||*`)));
    } finally {
      redis.disconnect();
    }
  });

  it('PostgreSQL: the same; the index is rows of the state table', async () => {
    await requirePostgres();
    const appId = `wfqpg${RUN}`;
    const table = `wfq_${RUN}`;
    await phasesIn(
      {
        metadata: { name: 'statestore' },
        spec: {
          type: 'state.postgresql',
          version: 'v1',
          metadata: [
            { name: 'connectionString', value: postgresUrl() },
            { name: 'tableName', value: table },
          ],
        },
      },
      appId,
    );
    const pg = new Client({ connectionString: postgresUrl() });
    await pg.connect();
    try {
      const rows = await pg.query(`SELECT key, value FROM ${table} WHERE key LIKE $1 ORDER BY key`, [`${appId}||wf-ix:FAILED:%`]);
      expect(rows.rows.map((r: { value: Buffer }) => Object.keys(JSON.parse(r.value.toString('utf8'))))).toEqual([[`${appId}-failed`]]);
    } finally {
      await pg.query(`DROP TABLE IF EXISTS ${table}`);
      await pg.end();
    }
  });
});

describe('listing: bad queries and the HTTP routes', () => {
  let t: TestApp;
  let wf: WorkflowClient;
  const clock = new VirtualClock(START);
  beforeAll(async () => {
    t = await app(sqlite(join(tempDir(), 'list-http.db')), clock);
    wf = t.app.get(SidekickClient).workflows;
  });
  afterAll(() => t.close());

  it('refuses a bad query with ERR_LIST_WORKFLOWS naming the field', async () => {
    await expect(wf.list({ status: ['RUNNING', 'DONE' as never] })).rejects.toMatchObject({
      code: 'ERR_LIST_WORKFLOWS',
      message:
        'invalid workflow query: status[1]: unknown status "DONE"; use one of PENDING, RUNNING, SUSPENDED, COMPLETED, FAILED, TERMINATED, CONTINUED_AS_NEW',
    });
    await expect(wf.list({ continuationToken: 'not-a-token' })).rejects.toMatchObject({
      code: 'ERR_LIST_WORKFLOWS',
      message: expect.stringContaining('continuationToken "not-a-token" is not a token this API returned'),
    });
    await expect(wf.list({ continuationToken: 'a b' })).rejects.toMatchObject({ code: 'ERR_LIST_WORKFLOWS' });
    await expect(wf.list({ pageSize: 0 })).rejects.toMatchObject({ message: 'invalid workflow query: pageSize: pageSize must be at least 1' });
    await expect(wf.list({ pageSize: 1001 })).rejects.toMatchObject({ code: 'ERR_LIST_WORKFLOWS' });
    await expect(wf.list({ createdFrom: new Date('nope') })).rejects.toMatchObject({
      message: 'invalid workflow query: createdFrom: createdFrom is not a valid date (got "Invalid Date")',
    });
    await expect(wf.list({ createdFrom: START + 1, createdTo: START })).rejects.toMatchObject({
      message: expect.stringContaining('createdFrom (2026-01-01T00:00:00.001Z) is after createdTo (2026-01-01T00:00:00.000Z)'),
    });
    await expect(wf.list({ statuses: ['RUNNING'] } as never)).rejects.toMatchObject({
      code: 'ERR_LIST_WORKFLOWS',
      message: expect.stringContaining('statuses'),
    });
  });

  it('GET /sidekick/v1.0/workflows lists in daprd GET bodies with pages; POST .../{name}/start?startTime= schedules', async () => {
    const at = new Date(START + 3_600_000).toISOString();
    expect(await http(t, 'POST', `/sidekick/v1.0/workflows/phases/start?instanceID=h-sched&startTime=${encodeURIComponent(at)}`, '"ok"')).toEqual({
      status: 202,
      body: { instanceID: 'h-sched' },
    });
    expect(await http(t, 'POST', '/v1.0-beta1/workflows/dapr/phases/start?instanceID=h-run', '"ok"')).toMatchObject({ status: 202 });
    await wf.waitForStart('h-run');
    const pending = await http(t, 'GET', '/sidekick/v1.0/workflows?status=PENDING');
    expect(pending).toEqual({
      status: 200,
      body: {
        instances: [
          {
            instanceID: 'h-sched',
            workflowName: 'phases',
            createdAt: new Date(START).toISOString(),
            lastUpdatedAt: new Date(START).toISOString(),
            runtimeStatus: 'PENDING',
            scheduledStartAt: at,
            properties: { 'dapr.workflow.input': '"ok"' },
          },
        ],
      },
    });
    const both = await http(t, 'GET', '/sidekick/v1.0/workflows?status=PENDING,RUNNING&pageSize=1');
    expect(both.status).toBe(200);
    expect(both.body.instances.map((i: { instanceID: string }) => i.instanceID)).toEqual(['h-run']);
    const next = await http(t, 'GET', `/sidekick/v1.0/workflows?status=PENDING&status=RUNNING&pageSize=1&continuationToken=${both.body.continuationToken}`);
    expect(next.body).toMatchObject({ instances: [{ instanceID: 'h-sched' }] });
    expect(next.body.continuationToken).toBeUndefined();
    expect((await http(t, 'GET', '/sidekick/v1.0/workflows?name=other')).body).toEqual({ instances: [] });

    expect(await http(t, 'GET', '/sidekick/v1.0/workflows?status=NOPE')).toEqual({
      status: 400,
      body: {
        errorCode: 'ERR_LIST_WORKFLOWS',
        message:
          'invalid workflow query: status[0]: unknown status "NOPE"; use one of PENDING, RUNNING, SUSPENDED, COMPLETED, FAILED, TERMINATED, CONTINUED_AS_NEW',
      },
    });
    expect((await http(t, 'GET', '/sidekick/v1.0/workflows?pageSize=ten')).body).toEqual({
      errorCode: 'ERR_LIST_WORKFLOWS',
      message: 'invalid workflow query: pageSize: pageSize must be a number',
    });
    expect((await http(t, 'GET', '/sidekick/v1.0/workflows?continuationToken=zzz')).status).toBe(400);
    expect((await http(t, 'GET', '/sidekick/v1.0/workflows?createdTo=yesterday')).body.message).toBe(
      'invalid workflow query: createdTo: createdTo is not a valid date (got "yesterday")',
    );
    expect((await http(t, 'GET', '/sidekick/v1.0/workflows?sort=asc')).body.errorCode).toBe('ERR_LIST_WORKFLOWS');
    expect(await http(t, 'POST', '/sidekick/v1.0/workflows/phases/start?instanceID=h-bad&startTime=soon', '"ok"')).toEqual({
      status: 500,
      body: {
        errorCode: 'ERR_START_WORKFLOW',
        message: `error starting workflow 'phases': startAt "soon" is not a valid time (give a Date, epoch milliseconds or an RFC 3339 string)`,
      },
    });
  });
});

/**
 * Two apps (processes' worth of engines) write the index of one store at once: each shard is written
 * with its etag, so neither loses the other's entries.
 */
async function twoWriters(component: Component, appId: string): Promise<void> {
  const apps: TestApp[] = [];
  try {
    // one after the other: PostgreSQL's CREATE TABLE IF NOT EXISTS races when two start at once
    for (let i = 0; i < 2; i++) apps.push(await startApp({ appId, components: [component] }, { providers: [QuickWorkflow] }));
    const [a, b] = apps.map((t) => t.app.get(SidekickClient).workflows) as [WorkflowClient, WorkflowClient];
    const run = (wf: WorkflowClient, w: number): Promise<WorkflowState[]> =>
      Promise.all(
        Array.from({ length: 100 }, async (_, i) => wf.waitForCompletion(await wf.schedule('quick', { instanceId: `w${w}-${i}`, input: i }), 60_000)),
      );
    const done = (await Promise.all([run(a, 0), run(b, 1)])).flat();
    expect(done.every((s) => s.status === 'COMPLETED')).toBe(true);
    const listed = await allPages(a, { status: 'COMPLETED', pageSize: 30 }); // 7 pages over the index pages of both apps
    expect(listed.pages.flat().sort()).toEqual(done.map((s) => s.instanceId).sort());
    expect(listed.pages.flat()).toHaveLength(200);
    expect(listed.pages.map((p) => p.length)).toEqual([30, 30, 30, 30, 30, 30, 20]);
    expect(ids(await b.list({ status: ['PENDING', 'RUNNING'] }))).toEqual([]);
  } finally {
    await Promise.all(apps.map((a) => a.close()));
  }
}

describe('two apps updating one status index', () => {
  it('Redis: 2 × 100 instances at once, every one listed once as COMPLETED', async () => {
    await requireRedis();
    const appId = `wfq2redis${RUN}`;
    await twoWriters(
      { metadata: { name: 'statestore' }, spec: { type: 'state.redis', version: 'v1', metadata: [{ name: 'redisHost', value: redisHostPort() }] } },
      appId,
    );
    const redis = rawRedis();
    try {
      await redis.connect();
      await redis.del(...(await redis.keys(`${appId}||*`)));
    } finally {
      redis.disconnect();
    }
  });

  it('PostgreSQL: the same', async () => {
    await requirePostgres();
    const table = `wfq2_${RUN}`;
    try {
      await twoWriters(
        {
          metadata: { name: 'statestore' },
          spec: {
            type: 'state.postgresql',
            version: 'v1',
            metadata: [
              { name: 'connectionString', value: postgresUrl() },
              { name: 'tableName', value: table },
            ],
          },
        },
        `wfq2pg${RUN}`,
      );
    } finally {
      const pg = new Client({ connectionString: postgresUrl() });
      await pg.connect();
      await pg.query(`DROP TABLE IF EXISTS ${table}`);
      await pg.end();
    }
  });

  it('SQLite (one file, two apps): the same', async () => {
    await twoWriters(sqlite(join(tempDir(), 'two.db')), `wfq2lite${RUN}`);
  });
});
