import { parseWorkflowQuery, DEFAULT_PAGE_SIZE, WORKFLOW_STATUSES } from '../../src/runtime/blocks/workflows/workflow.query';
import { startTimeOf } from '../../src/runtime/blocks/workflows/workflow.schedule';
import { IndexWork, type OwnPage, PAGE_CAPACITY, type Reader } from '../../src/runtime/blocks/workflows/workflow.index-work';
import type { WorkflowStatus } from '../../src/runtime/blocks/workflows/workflow.types';

describe('workflow query parsing', () => {
  it('defaults: every status, pages of 100, no bounds', () => {
    expect(parseWorkflowQuery({})).toEqual({ statuses: WORKFLOW_STATUSES, pageSize: DEFAULT_PAGE_SIZE });
    expect(parseWorkflowQuery(undefined)).toEqual({ statuses: WORKFLOW_STATUSES, pageSize: DEFAULT_PAGE_SIZE });
  });

  it('takes one status or a list, dates as Date, epoch ms or RFC 3339', () => {
    expect(parseWorkflowQuery({ status: 'FAILED' }).statuses).toEqual(['FAILED']);
    const q = parseWorkflowQuery({ status: ['RUNNING', 'SUSPENDED'], createdFrom: new Date(1000), createdTo: '1970-01-01T00:00:02Z', pageSize: 5 });
    expect(q).toMatchObject({ statuses: ['RUNNING', 'SUSPENDED'], from: 1000, to: 2000, pageSize: 5 });
    expect(parseWorkflowQuery({ createdFrom: 7 }).from).toBe(7);
  });

  it('refuses what it cannot use, naming the field', () => {
    const fails = (q: unknown): string => {
      try {
        parseWorkflowQuery(q);
      } catch (err) {
        return `${(err as { code: string }).code}: ${(err as Error).message}`;
      }
      return 'accepted';
    };
    expect(fails({ status: 'running' })).toBe(
      'ERR_LIST_WORKFLOWS: invalid workflow query: status[0]: unknown status "running"; use one of PENDING, RUNNING, SUSPENDED, COMPLETED, FAILED, TERMINATED, CONTINUED_AS_NEW',
    );
    expect(fails({ status: 3 })).toContain('status: status must be a status or an array of statuses');
    expect(fails({ pageSize: 2.5 })).toBe('ERR_LIST_WORKFLOWS: invalid workflow query: pageSize: pageSize must be a whole number');
    expect(fails({ name: '' })).toContain('name: name must not be empty');
    expect(fails({ continuationToken: 'eyJ4IjoxfQ' })).toContain('is not a token this API returned'); // {"x":1}
    expect(fails({ createdTo: {} })).toContain('createdTo: createdTo must be a Date, epoch milliseconds or an RFC 3339 string');
    expect(fails({ limit: 3 })).toContain('Unrecognized key');
    expect(fails([])).toContain('invalid workflow query');
  });

  it('reads back the tokens it gives (base64url JSON of the last instance)', () => {
    const token = Buffer.from(JSON.stringify({ c: 5, i: 'a' })).toString('base64url');
    expect(parseWorkflowQuery({ continuationToken: token }).after).toEqual({ c: 5, i: 'a' });
    expect(parseWorkflowQuery({ continuationToken: '' }).after).toBeUndefined();
  });
});

describe('scheduled start times', () => {
  it('reads Date, epoch ms and RFC 3339; refuses anything else', () => {
    expect(startTimeOf('w', undefined)).toBeUndefined();
    expect(startTimeOf('w', new Date(5))).toBe(5);
    expect(startTimeOf('w', 6)).toBe(6);
    expect(startTimeOf('w', '1970-01-01T00:00:00.007Z')).toBe(7);
    expect(() => startTimeOf('w', 'later')).toThrow(`error starting workflow 'w': startAt "later" is not a valid time`);
    expect(() => startTimeOf('w', Number.NaN)).toThrow('startAt NaN is not a valid time');
    expect(() => startTimeOf('w', {})).toThrow('startAt object is not a valid time');
  });
});

describe('status index pages (IndexWork)', () => {
  const reader = (stored: Map<string, string>): Reader => {
    let n = 0;
    return {
      read: (keys) => Promise.resolve(keys.map((key) => (stored.has(key) ? { key, data: Buffer.from(stored.get(key) ?? ''), etag: '1' } : { key }))),
      create: (key) => {
        if (!stored.has(key)) stored.set(key, '[]');
        return Promise.resolve();
      },
      newPage: () => `p-${n++}`,
    };
  };
  const upserts = (ops: ReturnType<IndexWork['ops']>): Record<string, unknown> =>
    Object.fromEntries(ops.map((op) => [op.request.key, op.operation === 'upsert' ? JSON.parse(String(op.request.value)) : 'deleted']));

  it('fills its own page up to PAGE_CAPACITY, then opens another and adds it to the directory', async () => {
    const own = new Map<string, OwnPage>();
    const open = new Map<WorkflowStatus, string>();
    const r = reader(new Map());
    const work = new IndexWork(r, own, open);
    for (let i = 0; i <= PAGE_CAPACITY; i++) work.add(work.placeFor('RUNNING'), `i${i}`, [i, 'w']);
    await work.loadDirectories();
    const written = upserts(work.ops());
    expect(Object.keys(written['wf-ix:RUNNING:p-0'] as object)).toHaveLength(PAGE_CAPACITY);
    expect(written['wf-ix:RUNNING:p-1']).toEqual({ [`i${PAGE_CAPACITY}`]: [PAGE_CAPACITY, 'w'] });
    expect(written['wf-ix:RUNNING']).toEqual(['p-0', 'p-1']);
    work.install();
    expect(open.get('RUNNING')).toBe('wf-ix:RUNNING:p-1');
    expect([...own.keys()].sort()).toEqual(['wf-ix:RUNNING:p-0', 'wf-ix:RUNNING:p-1']);
  });

  it('deletes an emptied closed page and drops it from the directory; an emptied open page stays', async () => {
    const own = new Map<string, OwnPage>([
      ['wf-ix:RUNNING:p-0', { status: 'RUNNING', page: 'p-0', entries: { a: [1, 'w'] }, size: 1, added: PAGE_CAPACITY }],
      ['wf-ix:RUNNING:p-1', { status: 'RUNNING', page: 'p-1', entries: { b: [2, 'w'] }, size: 1, added: 1 }],
    ]);
    const open = new Map<WorkflowStatus, string>([['RUNNING', 'wf-ix:RUNNING:p-1']]);
    const work = new IndexWork(reader(new Map([['wf-ix:RUNNING', '["p-0","p-1"]']])), own, open);
    work.remove({ status: 'RUNNING', page: 'p-0' }, 'a');
    work.remove({ status: 'RUNNING', page: 'p-1' }, 'b');
    await work.loadDirectories();
    expect(upserts(work.ops())).toEqual({ 'wf-ix:RUNNING:p-0': 'deleted', 'wf-ix:RUNNING:p-1': {}, 'wf-ix:RUNNING': ['p-1'] });
    work.install();
    expect([...own.keys()]).toEqual(['wf-ix:RUNNING:p-1']);
  });

  it('takes its changes back when the transaction is refused', () => {
    const page: OwnPage = { status: 'RUNNING', page: 'p-0', entries: { a: [1, 'w'] }, size: 1, added: 1 };
    const own = new Map<string, OwnPage>([['wf-ix:RUNNING:p-0', page]]);
    const open = new Map<WorkflowStatus, string>([['RUNNING', 'wf-ix:RUNNING:p-0']]);
    const work = new IndexWork(reader(new Map()), own, open);
    work.remove({ status: 'RUNNING', page: 'p-0' }, 'a');
    work.add(work.placeFor('RUNNING'), 'b', [2, 'w']);
    work.add(work.placeFor('RUNNING'), 'c', [3, 'w']);
    expect(page).toMatchObject({ size: 2, added: 3 });
    work.undo();
    expect(page).toEqual({ status: 'RUNNING', page: 'p-0', entries: { a: [1, 'w'] }, size: 1, added: 1 });
  });

  it("removes from another process's page with its etag, found by a search of the active pages", async () => {
    const stored = new Map([
      ['wf-ix:RUNNING', '["x-0"]'],
      ['wf-ix:RUNNING:x-0', '{"a":[1,"w"],"b":[2,"w"]}'],
    ]);
    const work = new IndexWork(reader(stored), new Map(), new Map());
    const found = await work.search(['PENDING', 'RUNNING', 'SUSPENDED']);
    expect([...found]).toEqual([
      ['a', { status: 'RUNNING', page: 'x-0' }],
      ['b', { status: 'RUNNING', page: 'x-0' }],
    ]);
    work.remove({ status: 'RUNNING', page: 'x-0' }, 'a');
    const ops = work.ops();
    expect(ops).toEqual([{ operation: 'upsert', request: { key: 'wf-ix:RUNNING:x-0', value: '{"b":[2,"w"]}', etag: '1' } }]);
  });
});
