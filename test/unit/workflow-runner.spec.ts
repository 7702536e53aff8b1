import { WorkflowRunner, type WorkflowContext, type WorkflowFn } from '../../src/runtime/blocks/workflows/workflow.runner';
import type { HistoryEvent } from '../../src/runtime/blocks/workflows/workflow.types';
import { silentLogger } from '../../src/testing';

const T0 = Date.UTC(2026, 0, 1);

/** Runs `fn` live the way the engine does (one step per batch of events), returning the whole history. */
async function runLive(fn: WorkflowFn, results: (actions: HistoryEvent[]) => HistoryEvent[], input?: unknown): Promise<HistoryEvent[]> {
  const runner = new WorkflowRunner('i-1', 'wf', fn, silentLogger);
  const history: HistoryEvent[] = [];
  let incoming: HistoryEvent[] = [
    { type: 'OrchestratorStarted', at: T0 },
    { type: 'ExecutionStarted', at: T0, name: 'wf', input },
  ];
  for (let step = 1; step < 50; step++) {
    const out = await runner.process(incoming);
    history.push(...incoming, ...out.actions, ...(out.completed ? [out.completed] : []));
    if (out.completed) return history;
    incoming = [{ type: 'OrchestratorStarted', at: T0 + step * 1000 }, ...results(out.actions)];
  }
  throw new Error('did not end');
}

/** Completes every scheduled activity with `name:input`, fires every timer. */
const answerAll = (actions: HistoryEvent[]): HistoryEvent[] =>
  actions.flatMap((a): HistoryEvent[] =>
    a.type === 'TaskScheduled'
      ? [{ type: 'TaskCompleted', at: 0, taskId: a.id, result: `${a.name}:${String(a.input)}` }]
      : a.type === 'TimerCreated'
        ? [{ type: 'TimerFired', at: 0, taskId: a.id }]
        : [],
  );

describe('WorkflowRunner (replay)', () => {
  const seen: { replaying: boolean; guid: string; time: number }[] = [];
  const chain: WorkflowFn = async (ctx: WorkflowContext) => {
    const a = await ctx.callActivity<string>('a', 1);
    seen.push({ replaying: ctx.isReplaying, guid: ctx.newGuid(), time: ctx.currentUtcDateTime.getTime() });
    await ctx.createTimer(5000);
    const [b, c] = await ctx.whenAll([ctx.callActivity<string>('b', 2), ctx.callActivity<string>('c', 3)]);
    return [a, b, c];
  };

  it('replays recorded history to the same outcome without new actions, same guids and times', async () => {
    seen.length = 0;
    const history = await runLive(chain, answerAll);
    const end = history.at(-1);
    expect(end).toMatchObject({ type: 'ExecutionCompleted', status: 'COMPLETED', output: ['a:1', 'b:2', 'c:3'] });
    expect(history.filter((e) => e.type === 'TimerCreated')).toEqual([{ type: 'TimerCreated', at: T0 + 1000, id: 1, fireAt: T0 + 6000 }]);

    const replay = new WorkflowRunner('i-1', 'wf', chain, silentLogger);
    const out = await replay.replay(history.slice(0, -1));
    expect(out.actions).toEqual([]);
    expect(out.completed).toMatchObject({ status: 'COMPLETED', output: ['a:1', 'b:2', 'c:3'] });
    expect(seen).toHaveLength(2);
    expect(seen[0]?.replaying).toBe(false);
    expect(seen[1]?.replaying).toBe(true);
    expect(seen[1]?.guid).toBe(seen[0]?.guid);
    expect(seen[1]?.time).toBe(seen[0]?.time);
    expect(seen[0]?.guid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('replays a partial history, then continues live with the next actions', async () => {
    const history = await runLive(chain, answerAll);
    const upToTimer = history.slice(
      0,
      history.findIndex((e) => e.type === 'TimerFired'),
    );
    const runner = new WorkflowRunner('i-1', 'wf', chain, silentLogger);
    const replayed = await runner.replay(upToTimer);
    expect(replayed).toEqual({ actions: [], completed: undefined });
    const next = await runner.process([
      { type: 'OrchestratorStarted', at: T0 + 7000 },
      { type: 'TimerFired', at: 0, taskId: 1 },
    ]);
    expect(next.actions.map((a) => a.type === 'TaskScheduled' && a.name)).toEqual(['b', 'c']);
  });

  it('whenAny gives the first task to finish in history order', async () => {
    const race: WorkflowFn = async (ctx) => {
      const slow = ctx.callActivity('slow');
      const timer = ctx.createTimer(1000);
      const first = await ctx.whenAny<unknown>([slow, timer]);
      return first.task === timer ? `timer (index ${first.index})` : 'activity';
    };
    const timerFirst = (actions: HistoryEvent[]): HistoryEvent[] => [...answerAll(actions)].reverse();
    const history = await runLive(race, timerFirst);
    expect(history.at(-1)).toMatchObject({ output: 'timer (index 1)' });
    expect(await new WorkflowRunner('i-1', 'wf', race, silentLogger).replay(history.slice(0, -1))).toMatchObject({ completed: { output: 'timer (index 1)' } });
  });

  it('fails on a replay that differs from the history, naming the step', async () => {
    const history = await runLive(chain, answerAll);
    const renamed: WorkflowFn = async (ctx) => {
      await ctx.callActivity('a', 1);
      await ctx.callActivity('other');
    };
    const out = await new WorkflowRunner('i-1', 'wf', renamed, silentLogger).replay(history.slice(0, -1));
    expect(out.completed).toMatchObject({
      status: 'FAILED',
      failure: {
        errorType: 'NonDeterminismError',
        message: expect.stringContaining('step 1: the history has createTimer(2026-01-01T00:00:06.000Z) but the workflow code now calls callActivity("other")'),
      },
    });
    const shorter: WorkflowFn = async (ctx) => {
      await ctx.callActivity('a', 1);
      await ctx.waitForExternalEvent('never');
    };
    const out2 = await new WorkflowRunner('i-1', 'wf', shorter, silentLogger).replay(history.slice(0, -1));
    expect(out2.completed?.failure?.message).toContain(
      'step 1: the history has createTimer(2026-01-01T00:00:06.000Z), which the workflow code no longer makes',
    );
  });

  it('holds events while suspended and delivers them on resume; buffers events raised before the wait', async () => {
    const wf: WorkflowFn = async (ctx) => {
      await ctx.callActivity('a');
      return ctx.waitForExternalEvent('Go');
    };
    const runner = new WorkflowRunner('i-1', 'wf', wf, silentLogger);
    const first = await runner.process([
      { type: 'OrchestratorStarted', at: T0 },
      { type: 'ExecutionStarted', at: T0, name: 'wf' },
      { type: 'EventRaised', at: T0, name: 'go', input: 'early' },
      { type: 'ExecutionSuspended', at: T0 },
      { type: 'TaskCompleted', at: T0, taskId: 0 },
    ]);
    expect(first.completed).toBeUndefined();
    expect(runner.isSuspended).toBe(true);
    const second = await runner.process([
      { type: 'OrchestratorStarted', at: T0 + 1 },
      { type: 'ExecutionResumed', at: T0 + 1 },
    ]);
    expect(second.completed).toMatchObject({ status: 'COMPLETED', output: 'early' });
  });

  it('isPatched: true and recorded when run live, replayed as recorded, false for a history without the patch', async () => {
    const patched: WorkflowFn = async (ctx) => {
      const path = ctx.isPatched('p1') ? 'new' : 'old';
      await ctx.callActivity(path);
      return path;
    };
    const fresh = await runLive(patched, answerAll);
    expect(fresh.filter((e) => e.type === 'PatchApplied')).toHaveLength(1);
    expect(await new WorkflowRunner('i-1', 'wf', patched, silentLogger).replay(fresh.slice(0, -1))).toMatchObject({
      actions: [],
      completed: { output: 'new' },
    });
    const unpatched: WorkflowFn = async (ctx) => {
      await ctx.callActivity('old');
      return 'old';
    };
    const before = await runLive(unpatched, answerAll);
    const replayed = await new WorkflowRunner('i-1', 'wf', patched, silentLogger).replay(before.slice(0, -1));
    expect(replayed).toMatchObject({ actions: [], completed: { status: 'COMPLETED', output: 'old' } });
  });
});
