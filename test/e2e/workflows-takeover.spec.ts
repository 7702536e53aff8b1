import { randomUUID } from 'node:crypto';
import { SidekickClient } from '../../src/runtime/sidekick.client';
import { VirtualClock } from '../../src/testing';
import { startApp, type TestApp } from '../support/app';
import { rawRedis, redisHostPort, requireRedis } from '../support/services';
import { ids, marks, PhaseWorkflows, START, waitFor } from '../support/workflow-phases';

/*
 * Listing and scheduled starts across a takeover (Redis): process A drives a RUNNING, a COMPLETED and a
 * scheduled (PENDING) instance, then stops; process B adopts them. B lists them by status (their index
 * entries stayed on A's pages), moves their entries as their status changes, and starts the scheduled
 * one at its time. Events for a scheduled instance another process drives: a terminate ends it, a
 * raise is refused.
 */

const RUN = randomUUID().slice(0, 8);
const appId = `wftake${RUN}`;

function start(clock: VirtualClock): Promise<TestApp> {
  return startApp(
    {
      appId,
      clock,
      workflows: { leaseMs: 900, pollMs: 20 },
      components: [
        { metadata: { name: 'statestore' }, spec: { type: 'state.redis', version: 'v1', metadata: [{ name: 'redisHost', value: redisHostPort() }] } },
      ],
    },
    { providers: [PhaseWorkflows] },
  );
}

describe('workflow listing and scheduled starts across a takeover (Redis)', () => {
  it('the adopter lists the adopted instances, moves their index entries and starts the scheduled one on time', async () => {
    await requireRedis();
    const redis = rawRedis();
    await redis.connect();
    const read = async (key: string): Promise<unknown> => {
      const data = await redis.hget(`${appId}||${key}`, 'data');
      return data === null ? undefined : (JSON.parse(data) as unknown);
    };
    /** Instance id → the pages of `status` holding it. */
    const pagesOf = async (status: string, id: string): Promise<string[]> => {
      const dir = ((await read(`wf-ix:${status}`)) ?? []) as string[];
      const found: string[] = [];
      for (const page of dir) if (id in (((await read(`wf-ix:${status}:${page}`)) ?? {}) as object)) found.push(page);
      return found;
    };
    const clockA = new VirtualClock(START);
    const clockB = new VirtualClock(START);
    let a: TestApp | undefined = await start(clockA);
    let b: TestApp | undefined;
    try {
      const wfA = a.app.get(SidekickClient).workflows;
      await wfA.schedule('phases', { instanceId: `run-${RUN}` });
      await wfA.schedule('phases', { instanceId: `done-${RUN}` });
      await wfA.schedule('phases', { instanceId: `sched-${RUN}`, startAt: START + 60_000 });
      await wfA.schedule('phases', { instanceId: `cancel-${RUN}`, startAt: START + 60_000 });
      await wfA.waitForStart(`run-${RUN}`, 20_000);
      await wfA.waitForStart(`done-${RUN}`, 20_000);
      await wfA.raiseEvent(`done-${RUN}`, 'go');
      await wfA.waitForCompletion(`done-${RUN}`, 20_000);
      const [runPage] = await pagesOf('RUNNING', `run-${RUN}`);
      expect(runPage).toBeDefined();

      b = await start(clockB);
      const wfB = b.app.get(SidekickClient).workflows;
      // a scheduled instance A drives: a raise from B is refused, a terminate from B ends it (through A's inbox)
      await expect(wfB.raiseEvent(`cancel-${RUN}`, 'go')).rejects.toMatchObject({
        code: 'ERR_RAISE_EVENT_WORKFLOW',
        message: expect.stringContaining('the instance is PENDING, scheduled to start'),
      });
      await wfB.terminate(`cancel-${RUN}`, 'not needed');
      await waitFor(async () => (await wfB.get(`cancel-${RUN}`))?.status === 'TERMINATED');
      expect(await wfB.get(`cancel-${RUN}`)).toMatchObject({ status: 'TERMINATED', output: 'not needed' });

      await a.close(); // leaves the members record: B adopts A's instances at its next heartbeat
      a = undefined;
      await waitFor(async () => {
        const members = (await read('wf-members')) as { members: Record<string, { adopted?: boolean }> } | undefined;
        return Object.values(members?.members ?? {}).some((m) => m.adopted === true);
      }, 20_000);

      // B lists what A left, by status (the entries are still on A's pages)
      expect(ids(await wfB.list({ status: 'RUNNING' }))).toEqual([`run-${RUN}`]);
      expect(ids(await wfB.list({ status: 'PENDING' }))).toEqual([`sched-${RUN}`]);
      expect(ids(await wfB.list({ status: 'COMPLETED' }))).toEqual([`done-${RUN}`]);
      expect(ids(await wfB.list({ status: 'TERMINATED' }))).toEqual([`cancel-${RUN}`]);
      expect(await wfB.get(`sched-${RUN}`)).toMatchObject({ status: 'PENDING', scheduledStartAt: START + 60_000 });
      await expect(wfB.suspend(`sched-${RUN}`)).rejects.toMatchObject({ code: 'ERR_PAUSE_WORKFLOW' });

      // B holds the scheduled instance until its time on B's clock, then drives it
      expect(marks.get(`sched-${RUN}`)).toBeUndefined();
      await clockB.advance(60_000);
      expect((await wfB.waitForStart(`sched-${RUN}`, 20_000)).status).toBe('RUNNING');
      await waitFor(() => marks.get(`sched-${RUN}`) === 1);
      await wfB.raiseEvent(`run-${RUN}`, 'go');
      expect(await wfB.waitForCompletion(`run-${RUN}`, 20_000)).toMatchObject({ status: 'COMPLETED', output: 'done' });
      await wfB.raiseEvent(`sched-${RUN}`, 'go');
      expect(await wfB.waitForCompletion(`sched-${RUN}`, 20_000)).toMatchObject({ status: 'COMPLETED', output: 'done' });

      expect(ids(await wfB.list({ status: ['RUNNING', 'PENDING'] }))).toEqual([]);
      expect(ids(await wfB.list({ status: 'COMPLETED' })).sort()).toEqual([`done-${RUN}`, `run-${RUN}`, `sched-${RUN}`].sort());
      // the bytes: each instance has one entry, under its status; A's RUNNING page lost the adopted entry
      expect(await pagesOf('RUNNING', `run-${RUN}`)).toEqual([]);
      expect(await pagesOf('PENDING', `sched-${RUN}`)).toEqual([]);
      expect(await pagesOf('COMPLETED', `run-${RUN}`)).toHaveLength(1);
      expect(await pagesOf('COMPLETED', `sched-${RUN}`)).toHaveLength(1);
      expect(await read(`wf-ixl:run-${RUN}`)).toEqual(['COMPLETED', (await pagesOf('COMPLETED', `run-${RUN}`))[0]]);
      expect(marks.get(`run-${RUN}`)).toBe(1); // its activity had a result: not run again by B
    } finally {
      await a?.close();
      await b?.close();
      const keys = await redis.keys(`${appId}||*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
