import { StateService } from '../../src/runtime/blocks/state/state.service';
import { ActivityQueue, workKey } from '../../src/runtime/blocks/workflows/workflow.activity-queue';
import { type InboxItem, type Instance, newInstance } from '../../src/runtime/blocks/workflows/workflow.instance';
import type { HistoryEvent } from '../../src/runtime/blocks/workflows/workflow.types';
import { SidekickRuntime } from '../../src/runtime/sidekick.runtime';
import { silentLogger, startTestApp, type TestApp } from '../../src/testing';

type Scheduled = Extract<HistoryEvent, { type: 'TaskScheduled' }>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Two processes' queues over one in-memory state store: A drives the instance, B is the other live member. */
describe('shared activities: the work records between processes (workflow.activity-queue.ts)', () => {
  let t: TestApp;
  let state: StateService;
  const queues: ActivityQueue[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    state = t.app.get(SidekickRuntime).service(StateService);
  });
  afterAll(async () => {
    await Promise.all(queues.map((q) => q.stop()));
    await t.close();
  });

  function queue(self: string, live: () => readonly string[], delivered: InboxItem[], ran: string[]): ActivityQueue {
    const q = new ActivityQueue(
      state,
      () => 'statestore',
      {
        self: () => self,
        live,
        deliver: (_inst, item) => delivered.push(item),
        run: (instanceId, action) => {
          ran.push(`${self} ${instanceId}:${action.id}`);
          return Promise.resolve({ type: 'TaskCompleted', at: 0, taskId: action.id, result: `${self}:${String(action.input)}` });
        },
      },
      10,
      silentLogger,
    );
    queues.push(q);
    return q;
  }

  const task = (id: number): Scheduled => ({ type: 'TaskScheduled', at: 0, id, name: 'square', input: id });
  const instance = (id: string): Instance =>
    newInstance({ instanceId: id, name: 'wf', status: 'RUNNING', createdAt: 0, lastUpdatedAt: 0, chunks: 1 }, undefined);

  it('hands every other step to the other live member, which runs it; the result comes back once, even when delivered twice', async () => {
    let live: readonly string[] = ['a1', 'b1'];
    const [delivered, ranA, ranB]: [InboxItem[], string[], string[]] = [[], [], []];
    const a = queue('a1', () => live, delivered, ranA);
    const b = queue('b1', () => live, [], ranB);
    const inst = instance('i1');
    const offered = [0, 1, 2, 3].map((id) => a.offer(inst, task(id), 0));
    expect(offered.filter(Boolean)).toHaveLength(2); // round-robin over a1 and b1: a1's turns run locally (false)
    a.start();
    b.start();
    for (let i = 0; i < 200 && delivered.length < 2; i++) await sleep(10);
    expect(ranB.sort()).toEqual(['b1 i1:1', 'b1 i1:3']);
    expect(delivered.map((d) => d.event)).toEqual(
      expect.arrayContaining([expect.objectContaining({ taskId: 1, result: 'b1:1' }), expect.objectContaining({ taskId: 3, result: 'b1:3' })]),
    );
    // The same result written again (a retried write): dropped, not fed twice.
    await state.save('statestore', [
      {
        key: workKey('a1'),
        value: JSON.stringify({
          items: [{ kind: 'result', instanceId: 'i1', event: { type: 'TaskCompleted', at: 0, taskId: 1, result: 'x' }, from: 'b1', at: Date.now() }],
        }),
      },
    ]);
    for (let i = 0; i < 200 && a.stats.duplicates === 0; i++) await sleep(10);
    expect(a.stats.duplicates).toBe(1);
    expect(delivered).toHaveLength(2);
    // One member alive: everything runs here, nothing is handed out.
    live = ['a1'];
    expect(a.offer(inst, task(4), 0)).toBe(false);
    expect(a.offer(inst, task(5), 0)).toBe(false);
  });

  it('runs again here a step handed to a member that left (at least once, same step)', async () => {
    let live: readonly string[] = ['a2', 'b2'];
    const [delivered, ranA]: [InboxItem[], string[]] = [[], []];
    const a = queue('a2', () => live, delivered, ranA);
    const inst = instance('i2');
    expect(a.offer(inst, task(0), 3)).toBe(false);
    expect(a.offer(inst, task(1), 3)).toBe(true); // to b2, which never reads its record
    a.start();
    await sleep(100);
    expect(delivered).toHaveLength(0);
    live = ['a2']; // b2's lease passed
    for (let i = 0; i < 200 && delivered.length === 0; i++) await sleep(10);
    expect(ranA).toEqual(['a2 i2:1']);
    expect(delivered).toEqual([{ event: { type: 'TaskCompleted', at: 0, taskId: 1, result: 'a2:1' }, generation: 3 }]);
    expect(a.stats.rerun).toBe(1);
  });

  it('forgets the steps of an instance that ended or moved: their late results are dropped', async () => {
    const live: readonly string[] = ['a3', 'b3'];
    const delivered: InboxItem[] = [];
    const a = queue('a3', () => live, delivered, []);
    const b = queue('b3', () => live, [], []);
    const inst = instance('i3');
    a.offer(inst, task(0), 0);
    expect(a.offer(inst, task(1), 0)).toBe(true);
    a.forget(inst);
    a.start();
    b.start();
    for (let i = 0; i < 200 && a.stats.duplicates === 0; i++) await sleep(10);
    expect(a.stats.duplicates).toBe(1);
    expect(delivered).toHaveLength(0);
  });
});
