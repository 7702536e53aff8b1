import Database from 'better-sqlite3';
import { join } from 'node:path';
import { SidekickClient } from '../../src/runtime/sidekick.client';
import { VirtualClock } from '../../src/testing';
import { tempDir } from '../support/app';
import { app, ids, marks, sqlite, START, waitFor } from '../support/workflow-phases';

describe('scheduled starts across restarts (SQLite)', () => {
  it('keeps a scheduled instance PENDING across a restart and starts it on time; one whose time passed while down starts at once', async () => {
    const file = join(tempDir(), 'scheduled.db');
    const first = await app(sqlite(file), new VirtualClock(START));
    try {
      const wf = first.app.get(SidekickClient).workflows;
      await wf.schedule('phases', { instanceId: 'later', startAt: new Date(START + 86_400_000) });
      await wf.schedule('phases', { instanceId: 'soon', startAt: START + 60_000 });
      expect(ids(await wf.list({ status: 'PENDING' }))).toEqual(['later', 'soon']);
    } finally {
      await first.close();
    }
    // back two minutes later: 'soon' is due (started at once), 'later' waits
    const clock = new VirtualClock(START + 120_000);
    const second = await app(sqlite(file), clock);
    try {
      const wf = second.app.get(SidekickClient).workflows;
      expect((await wf.waitForStart('soon', 10_000)).status).toBe('RUNNING');
      expect(await wf.get('later')).toMatchObject({ status: 'PENDING', scheduledStartAt: START + 86_400_000 });
      expect(ids(await wf.list({ status: 'PENDING' }))).toEqual(['later']);
      expect(marks.get('later')).toBeUndefined();
      await clock.advance(86_400_000 - 120_000 - 1);
      expect((await wf.get('later'))?.status).toBe('PENDING');
      await clock.advance(1);
      expect((await wf.waitForStart('later', 10_000)).status).toBe('RUNNING');
      await wf.raiseEvent('later', 'go');
      expect(await wf.waitForCompletion('later', 10_000)).toMatchObject({ status: 'COMPLETED', output: 'done' });
      expect(marks.get('later')).toBe(1);
      expect(ids(await wf.list({ status: 'COMPLETED' }))).toEqual(['later']);
    } finally {
      await second.close();
    }
  });

  it('terminates a scheduled instance before its start (its code never runs), then purges it; raise/pause/purge before the start are refused', async () => {
    const clock = new VirtualClock(START);
    const t = await app(sqlite(join(tempDir(), 'sched-term.db')), clock);
    try {
      const wf = t.app.get(SidekickClient).workflows;
      await wf.schedule('phases', { instanceId: 'cancelled', startAt: new Date(START + 3_600_000) });
      await expect(wf.raiseEvent('cancelled', 'go')).rejects.toMatchObject({
        code: 'ERR_RAISE_EVENT_WORKFLOW',
        message: `error raising event on workflow with instance ID 'cancelled': the instance is PENDING, scheduled to start at ${new Date(START + 3_600_000).toISOString()}; try again once it has started (or terminate it)`,
      });
      await expect(wf.suspend('cancelled')).rejects.toMatchObject({ code: 'ERR_PAUSE_WORKFLOW' });
      await expect(wf.purge('cancelled')).rejects.toMatchObject({ code: 'ERR_PURGE_WORKFLOW', message: expect.stringContaining('the instance is PENDING') });
      await wf.terminate('cancelled', { reason: 'not needed' });
      expect(await wf.get('cancelled')).toMatchObject({ status: 'TERMINATED', output: { reason: 'not needed' }, scheduledStartAt: START + 3_600_000 });
      expect(ids(await wf.list({ status: 'TERMINATED' }))).toEqual(['cancelled']);
      expect(ids(await wf.list({ status: 'PENDING' }))).toEqual([]);
      await clock.advance(2 * 3_600_000);
      expect((await wf.get('cancelled'))?.status).toBe('TERMINATED'); // the start time passed: nothing started
      expect(marks.get('cancelled')).toBeUndefined();
      await wf.purge('cancelled');
      expect(await wf.get('cancelled')).toBeUndefined();
      expect(ids(await wf.list())).toEqual([]);
      // the id is free again
      await wf.schedule('phases', { instanceId: 'cancelled' });
      expect((await wf.waitForStart('cancelled')).status).toBe('RUNNING');
      expect(ids(await wf.list({ status: 'RUNNING' }))).toEqual(['cancelled']);
    } finally {
      await t.close();
    }
  });

  it("the code's first step sees its start time as the current time, live and after a restart", async () => {
    const file = join(tempDir(), 'sched-clock.db');
    const first = await app(sqlite(file), new VirtualClock(START));
    try {
      await first.app.get(SidekickClient).workflows.schedule('clock', { instanceId: 'clock-1', startAt: START + 3_600_000 });
    } finally {
      await first.close();
    }
    const clock = new VirtualClock(START + 1000);
    const second = await app(sqlite(file), clock);
    try {
      const wf = second.app.get(SidekickClient).workflows;
      await clock.advance(3_600_000 - 1000);
      await wf.waitForStart('clock-1', 10_000);
      await waitFor(() => clock.pendingTimers > 0);
      await clock.advance(60_000);
      expect(await wf.waitForCompletion('clock-1', 10_000)).toMatchObject({ status: 'COMPLETED', output: [START + 3_600_000, START + 3_660_000] });
    } finally {
      await second.close();
    }
  });

  it('instances resumed after a restart leave the pages of the app that started them (80 RUNNING → COMPLETED)', async () => {
    const file = join(tempDir(), 'resumed.db');
    const ids80 = Array.from({ length: 80 }, (_, i) => `r-${String(i).padStart(2, '0')}`);
    const first = await app(sqlite(file), new VirtualClock(START));
    try {
      const wf = first.app.get(SidekickClient).workflows;
      for (const id of ids80) await wf.schedule('phases', { instanceId: id });
      await waitFor(async () => (await wf.list({ status: 'RUNNING', pageSize: 1000 })).instances.length === 80);
    } finally {
      await first.close();
    }
    const second = await app(sqlite(file), new VirtualClock(START));
    try {
      const wf = second.app.get(SidekickClient).workflows;
      expect(ids(await wf.list({ status: 'RUNNING', pageSize: 1000 }))).toEqual(ids80);
      await wf.suspend('r-00');
      expect(ids(await wf.list({ status: 'SUSPENDED' }))).toEqual(['r-00']);
      await wf.resume('r-00');
      await Promise.all(ids80.map((id) => wf.raiseEvent(id, 'go')));
      await Promise.all(ids80.map((id) => wf.waitForCompletion(id, 30_000)));
      expect(ids(await wf.list({ status: 'COMPLETED', pageSize: 1000 }))).toEqual(ids80);
      expect(ids(await wf.list({ status: ['PENDING', 'RUNNING', 'SUSPENDED'] }))).toEqual([]);
    } finally {
      await second.close();
    }
    // the entries left the first app's pages (not just filtered out by the records)
    const db = new Database(file, { readonly: true });
    try {
      const rows = db.prepare<[string], { key: string; value: Buffer }>('SELECT key, value FROM state WHERE key LIKE ?').all('%||wf-ix:RUNNING:%');
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) expect({ key: row.key, entries: JSON.parse(row.value.toString('utf8')) }).toEqual({ key: row.key, entries: {} });
    } finally {
      db.close();
    }
  });

  it('a start time in the past starts at once; an invalid one is refused', async () => {
    const t = await app(sqlite(join(tempDir(), 'sched-bad.db')), new VirtualClock(START));
    try {
      const wf = t.app.get(SidekickClient).workflows;
      await wf.schedule('phases', { instanceId: 'past', startAt: new Date(START - 60_000) });
      expect((await wf.waitForStart('past', 10_000)).status).toBe('RUNNING');
      expect((await wf.get('past'))?.scheduledStartAt).toBeUndefined();
      await expect(wf.schedule('phases', { instanceId: 'bad', startAt: new Date('not a date') })).rejects.toMatchObject({
        code: 'ERR_START_WORKFLOW',
        message: "error starting workflow 'phases': startAt Invalid Date is not a valid time (give a Date, epoch milliseconds or an RFC 3339 string)",
      });
      await expect(wf.schedule('phases', { instanceId: 'bad', startAt: 'tomorrow' })).rejects.toMatchObject({ code: 'ERR_START_WORKFLOW' });
      expect(await wf.get('bad')).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});
