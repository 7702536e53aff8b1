import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { Activity, Workflow } from '../../src/decorators';
import type { WorkflowContext } from '../../src/runtime/blocks/workflows/workflow.runner';
import type { ActivityContext } from '../../src/runtime/blocks/workflows/workflow.types';
import type { SidekickModuleOptions } from '../../src/runtime/sidekick.options';
import { SidekickClient } from '../../src/runtime/sidekick.client';
import { startApp, type TestApp } from '../support/app';
import { postgresUrl, rawRedis, redisHostPort, requirePostgres, requireRedis } from '../support/services';

const RUN = randomUUID().slice(0, 8);
const runs = new Map<string, number>();

@Injectable()
class StoreWorkflows {
  @Activity('double')
  double(ctx: ActivityContext, n: number): number {
    runs.set(ctx.idempotencyKey, (runs.get(ctx.idempotencyKey) ?? 0) + 1);
    return n * 2;
  }

  @Workflow('doubling')
  async doubling(ctx: WorkflowContext, n: number): Promise<number> {
    let value = n;
    for (let i = 0; i < 3; i++) value = await ctx.callActivity<number>('double', value);
    const fanned = await ctx.whenAll(Array.from({ length: 50 }, (_, i) => ctx.callActivity<number>('double', i)));
    return value + fanned.reduce((a, b) => a + b, 0);
  }
}

const EXPECTED = (n: number): number => n * 8 + 2 * ((49 * 50) / 2);

type Component = NonNullable<SidekickModuleOptions['components']>[number];

async function runIn(component: Component, appId: string, id: string): Promise<void> {
  const t: TestApp = await startApp({ appId, components: [component] }, { providers: [StoreWorkflows] });
  try {
    const client = t.app.get(SidekickClient);
    await client.workflows.schedule('doubling', { instanceId: id, input: 1 });
    expect(await client.workflows.waitForCompletion(id)).toMatchObject({ status: 'COMPLETED', output: EXPECTED(1) });
  } finally {
    await t.close();
  }
}

describe('workflow history in Redis and PostgreSQL state stores', () => {
  it('Redis: runs a chain and a fan-out; the record and history are hashes under the app id prefix', async () => {
    await requireRedis();
    const appId = `wfredis${RUN}`;
    const id = `redis-${RUN}`;
    await runIn(
      { metadata: { name: 'statestore' }, spec: { type: 'state.redis', version: 'v1', metadata: [{ name: 'redisHost', value: redisHostPort() }] } },
      appId,
      id,
    );
    const redis = rawRedis();
    try {
      await redis.connect();
      const meta = JSON.parse((await redis.hget(`${appId}||wf-meta:${id}`, 'data')) ?? 'null');
      expect(meta).toMatchObject({ instanceId: id, name: 'doubling', status: 'COMPLETED', output: EXPECTED(1) });
      const first = JSON.parse((await redis.hget(`${appId}||wf-h:${id}:0`, 'data')) ?? 'null');
      expect(first.map((e: { type: string }) => e.type)).toEqual(['OrchestratorStarted', 'ExecutionStarted']);
      // The process that drove it: its index of active instances is empty, and it left the members record at stop.
      expect(JSON.parse((await redis.hget(`${appId}||wf-index:${meta.owner}`, 'data')) ?? 'null')).toEqual([]);
      const members = JSON.parse((await redis.hget(`${appId}||wf-members`, 'data')) ?? 'null');
      expect(members.members[meta.owner]).toMatchObject({ until: 0 });
      expect(await redis.exists(`${appId}||wf-fenced:${meta.owner}`)).toBe(0); // every write asserted it absent, none left it behind
      const keys = await redis.keys(`${appId}||*`);
      await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  });

  it('PostgreSQL: runs a chain and a fan-out; the record is a row of the state table', async () => {
    await requirePostgres();
    const appId = `wfpg${RUN}`;
    const id = `pg-${RUN}`;
    const table = `wf_${RUN}`;
    await runIn(
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
      id,
    );
    const pg = new Client({ connectionString: postgresUrl() });
    await pg.connect();
    try {
      const rows = await pg.query(`SELECT value FROM ${table} WHERE key = $1`, [`${appId}||wf-meta:${id}`]);
      const meta = JSON.parse((rows.rows[0]?.value as Buffer).toString('utf8')); // a bytea column
      expect(meta).toMatchObject({ instanceId: id, status: 'COMPLETED', output: EXPECTED(1) });
    } finally {
      await pg.query(`DROP TABLE IF EXISTS ${table}`);
      await pg.end();
    }
  });
});
