import { Injectable } from '@nestjs/common';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Activity, Workflow } from '../../src/decorators';
import { TaskFailedError, WorkflowEventTimeoutError } from '../../src/errors';
import type { WorkflowContext } from '../../src/runtime/blocks/workflows/workflow.runner';
import type { ActivityContext } from '../../src/runtime/blocks/workflows/workflow.types';
import { SidekickClient } from '../../src/runtime/sidekick.client';
import { VirtualClock } from '../../src/testing';
import { startApp, tempDir, type TestApp } from '../support/app';

/** Counts of activity runs, per key, across app restarts in one test file. */
const runs = new Map<string, number>();
const count = (key: string): number => {
  const n = (runs.get(key) ?? 0) + 1;
  runs.set(key, n);
  return n;
};
/** Gates that hold an activity until the test opens them. */
const gates = new Map<string, () => void>();

@Injectable()
class Activities {
  @Activity('greet')
  greet(ctx: ActivityContext, name: string): string {
    count(`greet:${ctx.idempotencyKey}`);
    return `Hello ${name}`;
  }

  @Activity('square')
  square(_ctx: ActivityContext, n: number): number {
    return n * n;
  }

  @Activity('today')
  today(): Date {
    return new Date(Date.UTC(2026, 0, 2));
  }

  @Activity('flaky')
  flaky(ctx: ActivityContext, failures: number): string {
    const attempt = count(`flaky:${ctx.workflowInstanceId}`);
    if (attempt <= failures) throw new Error(`attempt ${attempt} failed`);
    return `ok after ${attempt}`;
  }

  @Activity('step')
  async step(ctx: ActivityContext, name: string): Promise<string> {
    count(`step:${ctx.workflowInstanceId}:${name}`);
    if (name === 'held') await new Promise<void>((resolve) => gates.set(ctx.workflowInstanceId, resolve));
    return name;
  }
}

/** Switched between app starts to play a code change over running instances. */
let changedCode = false;

@Injectable()
class Workflows {
  @Workflow('chain')
  async chain(ctx: WorkflowContext, input: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const name of input) out.push(await ctx.callActivity<string>(Activities.prototype.greet, name));
    ctx.setCustomStatus({ greeted: out.length });
    return out;
  }

  @Workflow('fanout')
  async fanout(ctx: WorkflowContext, n: number): Promise<number> {
    const tasks = Array.from({ length: n }, (_, i) => ctx.callActivity<number>('square', i));
    const squares = await ctx.whenAll(tasks);
    return squares.reduce((a, b) => a + b, 0);
  }

  @Workflow('retry')
  async retry(ctx: WorkflowContext, failures: number): Promise<string> {
    return ctx.callActivity<string>('flaky', failures, {
      retryPolicy: { maxNumberOfAttempts: 3, firstRetryIntervalInMilliseconds: 10, backoffCoefficient: 2 },
    });
  }

  @Workflow('approval')
  async approval(ctx: WorkflowContext, timeoutMs: number): Promise<string> {
    try {
      const answer = await ctx.waitForExternalEvent<{ approved: boolean }>('Approval', { timeout: timeoutMs });
      return answer.approved ? 'approved' : 'rejected';
    } catch (err) {
      if (err instanceof WorkflowEventTimeoutError) return 'timed out';
      throw err;
    }
  }

  @Workflow('resumable')
  async resumable(ctx: WorkflowContext): Promise<string[]> {
    const a = await ctx.callActivity<string>('step', 'first');
    const b = await ctx.callActivity<string>('step', changedCode ? 'changed' : 'held');
    const go = await ctx.waitForExternalEvent<string>('go');
    const c = await ctx.callActivity<string>('step', 'last');
    return [a, b, go, c, ctx.newGuid()];
  }

  @Workflow('counter')
  async counter(ctx: WorkflowContext, n: number): Promise<number> {
    const next = await ctx.callActivity<number>('square', n); // 0 → 0 would loop: start at 1
    if (next < 1000) ctx.continueAsNew(next + 1);
    return next;
  }

  @Workflow('parent')
  async parent(ctx: WorkflowContext, mode: 'ok' | 'fail' | 'wait'): Promise<unknown> {
    if (mode === 'wait') return ctx.callChildWorkflow('approval', 60_000, { instanceId: `${ctx.instanceId}-approval` });
    const greeted = await ctx.callChildWorkflow<string[]>('chain', ['x', 'y']);
    if (mode === 'ok') return greeted;
    try {
      await ctx.callChildWorkflow('failing');
      return 'not reached';
    } catch (err) {
      return { caught: (err as TaskFailedError).details };
    }
  }

  @Workflow('versioned')
  async versioned(ctx: WorkflowContext): Promise<string[]> {
    const out = [await ctx.callActivity<string>('step', 'v1-first')];
    // Without isPatched, an instance that recorded 'middle' as its step 1 would fail as non-deterministic.
    if (changedCode && ctx.isPatched('extra-step')) out.push(await ctx.callActivity<string>('step', 'v2-extra'));
    out.push(await ctx.callActivity<string>('step', 'middle'));
    await ctx.waitForExternalEvent('go');
    out.push(await ctx.callActivity<string>('step', 'last'));
    return out;
  }

  @Workflow('json')
  async json(ctx: WorkflowContext, mode: 'date' | 'bigint'): Promise<unknown> {
    const day = await ctx.callActivity<unknown>('today');
    return mode === 'date' ? { type: typeof day, day } : { big: BigInt(1) };
  }

  @Workflow('failing')
  async failing(ctx: WorkflowContext): Promise<void> {
    try {
      await ctx.callActivity('flaky', 10);
    } catch (err) {
      if (err instanceof TaskFailedError) throw new Error(`gave up: ${err.details.message}`);
      throw err;
    }
  }
}

async function http(t: TestApp, method: string, path: string, body?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${t.apiUrl}${path}`, { method, body, headers: body === undefined ? {} : { 'content-type': 'application/json' } });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

function sqliteApp(file: string, clock?: VirtualClock): Promise<TestApp> {
  return startApp(
    {
      components: [{ metadata: { name: 'statestore' }, spec: { type: 'state.sqlite', version: 'v1', metadata: [{ name: 'connectionString', value: file }] } }],
      ...(clock ? { clock } : {}),
    },
    { providers: [Activities, Workflows] },
  );
}

describe('workflows (one app, SQLite history)', () => {
  let t: TestApp;
  let client: SidekickClient;
  const dbFile = join(tempDir(), 'wf.db');
  beforeAll(async () => {
    t = await sqliteApp(dbFile);
    client = t.app.get(SidekickClient);
  });
  afterAll(() => t.close());

  it('runs a chain of activities and reports state over HTTP as daprd does', async () => {
    const start = await http(t, 'POST', '/v1.0-beta1/workflows/dapr/chain/start?instanceID=chain-1', JSON.stringify(['a', 'b', 'c']));
    expect(start).toEqual({ status: 202, body: { instanceID: 'chain-1' } });
    const done = await client.workflows.waitForCompletion('chain-1');
    expect(done).toMatchObject({ status: 'COMPLETED', output: ['Hello a', 'Hello b', 'Hello c'], customStatus: { greeted: 3 } });
    const got = await http(t, 'GET', '/v1.0-beta1/workflows/dapr/chain-1');
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      instanceID: 'chain-1',
      workflowName: 'chain',
      runtimeStatus: 'COMPLETED',
      properties: {
        'dapr.workflow.input': '["a","b","c"]',
        'dapr.workflow.output': '["Hello a","Hello b","Hello c"]',
        'dapr.workflow.custom_status': '{"greeted":3}',
      },
    });
    expect(new Date(got.body.createdAt).toISOString()).toBe(got.body.createdAt);
    // the newer path serves the same
    expect((await http(t, 'GET', '/v1.0/workflows/dapr/chain-1')).body.runtimeStatus).toBe('COMPLETED');
  });

  it('fans out 1,000 activities and fans in', async () => {
    const id = await client.workflows.schedule('fanout', { input: 1000 });
    const done = await client.workflows.waitForCompletion(id, 120_000);
    expect(done.status).toBe('COMPLETED');
    expect(done.output).toBe(Array.from({ length: 1000 }, (_, i) => i * i).reduce((a, b) => a + b, 0));
  });

  it('retries an activity by its policy, then fails with the details', async () => {
    const ok = await client.workflows.schedule('retry', { instanceId: 'retry-ok', input: 2 });
    expect(await client.workflows.waitForCompletion(ok)).toMatchObject({ status: 'COMPLETED', output: 'ok after 3' });
    const bad = await client.workflows.schedule('retry', { instanceId: 'retry-bad', input: 5 });
    const failed = await client.workflows.waitForCompletion(bad);
    expect(runs.get('flaky:retry-bad')).toBe(3);
    expect(failed.status).toBe('FAILED');
    expect(failed.failure?.errorType).toBe('TaskFailedError');
    expect(failed.failure?.message).toContain('attempt 3 failed');
    const body = (await http(t, 'GET', '/v1.0-beta1/workflows/dapr/retry-bad')).body;
    expect(body.runtimeStatus).toBe('FAILED');
    expect(body.properties['dapr.workflow.failure.error_message']).toContain('attempt 3 failed');
  });

  it('fails the instance when the workflow code throws (an activity failure it caught and rethrew)', async () => {
    const id = await client.workflows.schedule('failing');
    const state = await client.workflows.waitForCompletion(id);
    expect(state).toMatchObject({ status: 'FAILED', failure: { errorType: 'Error', message: 'gave up: attempt 1 failed' } });
  });

  it('delivers an external event raised over HTTP (names are case-insensitive)', async () => {
    await http(t, 'POST', '/v1.0-beta1/workflows/dapr/approval/start?instanceID=appr-1', '60000');
    const raised = await http(t, 'POST', '/v1.0-beta1/workflows/dapr/appr-1/raiseEvent/approval', JSON.stringify({ approved: true }));
    expect(raised).toEqual({ status: 202, body: {} });
    expect(await client.workflows.waitForCompletion('appr-1')).toMatchObject({ status: 'COMPLETED', output: 'approved' });
  });

  it('suspends and resumes: events wait while suspended', async () => {
    await client.workflows.schedule('approval', { instanceId: 'susp-1', input: 60_000 });
    expect((await client.workflows.waitForStart('susp-1')).status).toBe('RUNNING');
    expect(await http(t, 'POST', '/v1.0-beta1/workflows/dapr/susp-1/pause')).toEqual({ status: 202, body: {} });
    expect((await client.workflows.get('susp-1'))?.status).toBe('SUSPENDED');
    await client.workflows.raiseEvent('susp-1', 'Approval', { approved: false });
    expect((await client.workflows.get('susp-1'))?.status).toBe('SUSPENDED');
    expect(await http(t, 'POST', '/v1.0-beta1/workflows/dapr/susp-1/resume')).toEqual({ status: 202, body: {} });
    expect(await client.workflows.waitForCompletion('susp-1')).toMatchObject({ status: 'COMPLETED', output: 'rejected' });
  });

  it('terminates a running instance, then purges it', async () => {
    await client.workflows.schedule('approval', { instanceId: 'term-1', input: 60_000 });
    expect((await http(t, 'POST', '/v1.0-beta1/workflows/dapr/term-1/purge')).body.errorCode).toBe('ERR_PURGE_WORKFLOW');
    expect(await http(t, 'POST', '/v1.0-beta1/workflows/dapr/term-1/terminate')).toEqual({ status: 202, body: {} });
    expect((await client.workflows.get('term-1'))?.status).toBe('TERMINATED');
    expect(await http(t, 'POST', '/v1.0-beta1/workflows/dapr/term-1/purge')).toEqual({ status: 202, body: {} });
    const gone = await http(t, 'GET', '/v1.0-beta1/workflows/dapr/term-1');
    expect(gone).toEqual({ status: 404, body: { errorCode: 'ERR_INSTANCE_ID_NOT_FOUND', message: "unable to find workflow with instance ID 'term-1'" } });
  });

  it('answers bad input with daprd-style errors', async () => {
    const unknown = await http(t, 'POST', '/v1.0-beta1/workflows/dapr/nope/start');
    expect(unknown.status).toBe(500);
    expect(unknown.body.errorCode).toBe('ERR_START_WORKFLOW');
    expect(unknown.body.message).toContain('workflow "nope" is not registered; registered workflows: chain, fanout');
    await client.workflows.schedule('approval', { instanceId: 'dup-1', input: 60_000 });
    const dup = await http(t, 'POST', '/v1.0-beta1/workflows/dapr/approval/start?instanceID=dup-1', '1');
    expect(dup).toEqual({
      status: 500,
      body: { errorCode: 'ERR_START_WORKFLOW', message: "error starting workflow 'approval': an active workflow with ID 'dup-1' already exists" },
    });
    const malformed = await http(t, 'POST', '/v1.0-beta1/workflows/dapr/chain/start', '{"not json');
    expect(malformed.status).toBe(400);
    expect(malformed.body.errorCode).toBe('ERR_MALFORMED_REQUEST');
    expect((await http(t, 'POST', '/v1.0-beta1/workflows/dapr/chain/start?instanceID=bad%20id')).body.errorCode).toBe('ERR_INSTANCE_ID_INVALID');
    expect((await http(t, 'POST', `/v1.0-beta1/workflows/dapr/chain/start?instanceID=${'x'.repeat(65)}`)).body.errorCode).toBe('ERR_INSTANCE_ID_TOO_LONG');
    const raise = await http(t, 'POST', '/v1.0-beta1/workflows/dapr/missing-1/raiseEvent/go', '1');
    expect(raise.status).toBe(500);
    expect(raise.body.errorCode).toBe('ERR_RAISE_EVENT_WORKFLOW');
    expect((await http(t, 'POST', '/v1.0-beta1/workflows/dapr/missing-1/terminate')).body.errorCode).toBe('ERR_INSTANCE_ID_NOT_FOUND');
    expect((await http(t, 'POST', '/v1.0-beta1/workflows/dapr/missing-1/pause')).body.errorCode).toBe('ERR_PAUSE_WORKFLOW');
    await client.workflows.terminate('dup-1');
  });

  it('continues as new with a fresh history until it returns', async () => {
    const id = await client.workflows.schedule('counter', { instanceId: 'count-1', input: 2 });
    const state = await client.workflows.waitForCompletion(id);
    // 2 → 4, 5 → 25, 26 → 676, 677 → 458329
    expect(state).toMatchObject({ status: 'COMPLETED', input: 677, output: 458329 });
    const db = new Database(dbFile, { readonly: true });
    try {
      const keys = db.prepare(`SELECT key FROM state WHERE key LIKE 'testapp||wf-h:count-1:%' ORDER BY key`).all() as { key: string }[];
      expect(keys.map((k) => k.key)).toEqual(['testapp||wf-h:count-1:0', 'testapp||wf-h:count-1:1', 'testapp||wf-h:count-1:2']);
    } finally {
      db.close();
    }
  });

  it('runs child workflows; the failure of a child reaches the parent with its details', async () => {
    const ok = await client.workflows.schedule('parent', { instanceId: 'par-ok', input: 'ok' });
    expect(await client.workflows.waitForCompletion(ok)).toMatchObject({ status: 'COMPLETED', output: ['Hello x', 'Hello y'] });
    expect(await client.workflows.get('par-ok-child-0')).toMatchObject({ name: 'chain', status: 'COMPLETED', input: ['x', 'y'] });
    const bad = await client.workflows.schedule('parent', { instanceId: 'par-bad', input: 'fail' });
    const state = await client.workflows.waitForCompletion(bad);
    expect(state.output).toEqual({ caught: expect.objectContaining({ errorType: 'Error', message: 'gave up: attempt 1 failed' }) });
    expect((await client.workflows.get('par-bad-child-1'))?.status).toBe('FAILED');
  });

  it('terminates and purges recursively', async () => {
    const id = await client.workflows.schedule('parent', { instanceId: 'par-wait', input: 'wait' });
    await waitFor(async () => (await client.workflows.get('par-wait-approval'))?.status === 'RUNNING');
    await client.workflows.terminate(id);
    await waitFor(async () => (await client.workflows.get('par-wait-approval'))?.status === 'TERMINATED');
    expect((await client.workflows.get(id))?.status).toBe('TERMINATED');
    await client.workflows.purge(id);
    expect(await client.workflows.get(id)).toBeUndefined();
    expect(await client.workflows.get('par-wait-approval')).toBeUndefined();
  });

  it('hands values over as JSON, live as in replay; a value that is not JSON fails the instance', async () => {
    const date = await client.workflows.schedule('json', { input: 'date' });
    expect(await client.workflows.waitForCompletion(date)).toMatchObject({ status: 'COMPLETED', output: { type: 'string', day: '2026-01-02T00:00:00.000Z' } });
    const big = await client.workflows.schedule('json', { input: 'bigint' });
    const failed = await client.workflows.waitForCompletion(big);
    expect(failed.status).toBe('FAILED');
    expect(failed.failure?.message).toContain('the workflow produced a value that is not JSON: Do not know how to serialize a BigInt');
    await expect(client.workflows.schedule('json', { input: { n: BigInt(2) } })).rejects.toThrow("error starting workflow 'json': the input is not JSON");
  });

  it('lists the registered workflows and activities in /v1.0/metadata', async () => {
    const meta = await http(t, 'GET', '/v1.0/metadata');
    expect(meta.body.workflows).toEqual({
      connectedWorkers: 1,
      workflows: ['chain', 'fanout', 'retry', 'approval', 'resumable', 'counter', 'parent', 'versioned', 'json', 'failing'],
      activities: ['greet', 'square', 'today', 'flaky', 'step'],
    });
  });
});

describe('workflows across restarts (one SQLite file)', () => {
  it('times out an external event on the durable timer (virtual clock)', async () => {
    const clock = new VirtualClock();
    const t = await sqliteApp(join(tempDir(), 'timer.db'), clock);
    try {
      const client = t.app.get(SidekickClient);
      await client.workflows.schedule('approval', { instanceId: 'late-1', input: 5_000 });
      await client.workflows.waitForStart('late-1'); // its first step recorded: the timer is set (other blocks set timers too)
      await waitFor(() => clock.pendingTimers > 0);
      await clock.advance(5_000);
      expect(await client.workflows.waitForCompletion('late-1')).toMatchObject({ status: 'COMPLETED', output: 'timed out' });
    } finally {
      await t.close();
    }
  });

  it('resumes a workflow in a new app without running completed activities again', async () => {
    changedCode = false;
    const file = join(tempDir(), 'restart.db');
    const first = await sqliteApp(file);
    await first.app.get(SidekickClient).workflows.schedule('resumable', { instanceId: 'res-1' });
    await waitFor(() => gates.has('res-1')); // 'first' done and recorded; 'held' is running
    await first.close(); // the held activity never finishes in this app
    gates.get('res-1')?.();
    gates.delete('res-1');

    const second = await sqliteApp(file);
    try {
      const client = second.app.get(SidekickClient);
      await waitFor(() => gates.has('res-1')); // 'held' had no recorded result: it runs again
      gates.get('res-1')?.();
      await client.workflows.raiseEvent('res-1', 'go', 'went');
      const done = await client.workflows.waitForCompletion('res-1');
      expect(done.status).toBe('COMPLETED');
      expect((done.output as string[]).slice(0, 4)).toEqual(['first', 'held', 'went', 'last']);
      expect(runs.get('step:res-1:first')).toBe(1);
      expect(runs.get('step:res-1:held')).toBe(2);
      expect(runs.get('step:res-1:last')).toBe(1);
    } finally {
      await second.close();
    }
  });

  it('fails an instance whose code no longer matches its history, naming the step', async () => {
    changedCode = false;
    const file = join(tempDir(), 'nondet.db');
    const first = await sqliteApp(file);
    const c1 = first.app.get(SidekickClient);
    await c1.workflows.schedule('resumable', { instanceId: 'nd-1' });
    await waitFor(() => gates.has('nd-1'));
    gates.get('nd-1')?.();
    gates.delete('nd-1');
    await waitFor(async () => runs.get('step:nd-1:held') === 1 && (await c1.workflows.get('nd-1'))?.status === 'RUNNING');
    await new Promise((r) => setTimeout(r, 200)); // the result is recorded; the instance waits for 'go'
    await first.close();

    changedCode = true;
    const second = await sqliteApp(file);
    try {
      const state = await second.app.get(SidekickClient).workflows.waitForCompletion('nd-1');
      expect(state.status).toBe('FAILED');
      expect(state.failure?.errorType).toBe('NonDeterminismError');
      expect(state.failure?.message).toBe(
        'non-deterministic workflow "resumable": step 1: the history has callActivity("step") with input "held" but the workflow code now calls it with input "changed"',
      );
    } finally {
      changedCode = false;
      await second.close();
    }
  });
});

describe('workflow registration errors', () => {
  it('refuses two methods registering one workflow name, naming both', async () => {
    @Injectable()
    class Twice {
      @Workflow('chain')
      async again(): Promise<void> {}
    }
    await expect(startApp({}, { providers: [Workflows, Activities, Twice] })).rejects.toThrow(
      '@Workflow("chain") on Twice.again: the name is already registered by Workflows.chain; names must be unique',
    );
  });

  it('an app without workflows answers the workflow API with daprd codes, not 501', async () => {
    const t = await startApp();
    try {
      const res = await fetch(`${t.apiUrl}/v1.0-beta1/workflows/dapr/any/start`, { method: 'POST' });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({
        errorCode: 'ERR_START_WORKFLOW',
        message: `error starting workflow 'any': workflow "any" is not registered; registered workflows: none`,
      });
      expect((await fetch(`${t.apiUrl}/v1.0-beta1/workflows/dapr/nope-1`)).status).toBe(404);
    } finally {
      await t.close();
    }
  });
});

describe('workflow versioning (ctx.isPatched)', () => {
  it('deploys a changed workflow over a running instance: it keeps the old path, new instances take the new one', async () => {
    changedCode = false;
    const file = join(tempDir(), 'versions.db');
    const first = await sqliteApp(file);
    await first.app.get(SidekickClient).workflows.schedule('versioned', { instanceId: 'old-1' });
    await waitFor(() => runs.get('step:old-1:middle') === 1);
    await new Promise((r) => setTimeout(r, 200)); // its result recorded, the instance waits for 'go'
    await first.close();

    changedCode = true; // the new code: an extra step behind isPatched('extra-step')
    const second = await sqliteApp(file);
    try {
      const client = second.app.get(SidekickClient);
      await client.workflows.schedule('versioned', { instanceId: 'new-1' });
      await client.workflows.raiseEvent('old-1', 'go');
      await client.workflows.raiseEvent('new-1', 'go');
      expect(await client.workflows.waitForCompletion('old-1')).toMatchObject({ status: 'COMPLETED', output: ['v1-first', 'middle', 'last'] });
      expect(await client.workflows.waitForCompletion('new-1')).toMatchObject({ status: 'COMPLETED', output: ['v1-first', 'v2-extra', 'middle', 'last'] });
    } finally {
      changedCode = false;
      await second.close();
    }
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
