import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { Activity, Workflow } from '../../src/decorators';
import type { WorkflowContext } from '../../src/runtime/blocks/workflows/workflow.runner';
import { INDEX_SHARDS, shardOf } from '../../src/runtime/blocks/workflows/workflow.index';
import type { WorkflowState } from '../../src/runtime/blocks/workflows/workflow.types';
import type { WorkflowClient } from '../../src/runtime/blocks/workflows/workflow.client';
import type { SidekickModuleOptions } from '../../src/runtime/sidekick.options';
import { SidekickClient } from '../../src/runtime/sidekick.client';
import { VirtualClock } from '../../src/testing';
import { startApp, tempDir, type TestApp } from '../support/app';
import { postgresUrl, rawRedis, redisHostPort, requirePostgres, requireRedis } from '../support/services';

const RUN = randomUUID().slice(0, 8);
/** Activity runs per instance id. */
const marks = new Map<string, number>();

@Injectable()
class PhaseWorkflows {
  @Activity('mark')
  mark(ctx: { workflowInstanceId: string }): string {
    marks.set(ctx.workflowInstanceId, (marks.get(ctx.workflowInstanceId) ?? 0) + 1);
    return 'marked';
  }

  /** RUNNING until the event 'go' arrives; then COMPLETED, or FAILED when the input says so. */
  @Workflow('phases')
  async phases(ctx: WorkflowContext, mode: 'ok' | 'fail' | undefined): Promise<string> {
    await ctx.callActivity('mark');
    await ctx.waitForExternalEvent('go');
    if (mode === 'fail') throw new Error('told to fail');
    return 'done';
  }

  @Workflow('other')
  async other(ctx: WorkflowContext): Promise<string> {
    await ctx.waitForExternalEvent('go');
    return 'other done';
  }
}

type Component = NonNullable<SidekickModuleOptions['components']>[number];

const START = Date.UTC(2026, 0, 1);

function app(component: Component, clock: VirtualClock, appId = `wfq${RUN}`): Promise<TestApp> {
  return startApp({ appId, components: [component], clock }, { providers: [PhaseWorkflows] });
}

const sqlite = (file: string): Component => ({
  metadata: { name: 'statestore' },
  spec: { type: 'state.sqlite', version: 'v1', metadata: [{ name: 'connectionString', value: file }] },
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ids = (page: { instances: readonly WorkflowState[] }): string[] => page.instances.map((s) => s.instanceId);

/** Every listed page of `query`, following the continuation tokens. */
async function allPages(wf: WorkflowClient, query: Parameters<WorkflowClient['list']>[0]): Promise<{ pages: string[][]; tokens: number }> {
  const pages: string[][] = [];
  let token: string | undefined;
  let tokens = 0;
  do {
    const page = await wf.list({ ...query, continuationToken: token });
    pages.push(ids(page));
    token = page.continuationToken;
    if (token !== undefined) tokens++;
  } while (token !== undefined && pages.length < 50);
  return { pages, tokens };
}

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
      const shard = JSON.parse((await redis.hget(`${appId}||wf-ix:TERMINATED:${shardOf(id)}`, 'data')) ?? 'null');
      expect(shard[id]).toEqual([START + 5000, 'phases']);
      const keys = await redis.keys(`${appId}||wf-ix:*`);
      // emptied shards are deleted: only the statuses still held (one FAILED, five TERMINATED) have keys
      expect(keys.every((k) => /\|\|wf-ix:(TERMINATED|FAILED):\d+$/.test(k))).toBe(true);
      expect(keys.length).toBeLessThanOrEqual(6);
      expect(keys.length).toBeLessThanOrEqual(INDEX_SHARDS);
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
      const rows = await pg.query(`SELECT key FROM ${table} WHERE key LIKE $1 ORDER BY key`, [`${appId}||wf-ix:%`]);
      expect(rows.rows.length).toBeGreaterThan(0);
      expect(rows.rows.map((r: { key: string }) => r.key.replace(/:\d+$/, '')).sort()).toEqual(
        expect.arrayContaining([`${appId}||wf-ix:FAILED`, `${appId}||wf-ix:TERMINATED`]),
      );
      expect(rows.rows.every((r: { key: string }) => /\|\|wf-ix:(TERMINATED|FAILED):\d+$/.test(r.key))).toBe(true);
    } finally {
      await pg.query(`DROP TABLE IF EXISTS ${table}`);
      await pg.end();
    }
  });
});
