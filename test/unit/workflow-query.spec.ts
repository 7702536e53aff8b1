import { parseWorkflowQuery, DEFAULT_PAGE_SIZE, WORKFLOW_STATUSES } from '../../src/runtime/blocks/workflows/workflow.query';
import { startTimeOf } from '../../src/runtime/blocks/workflows/workflow.schedule';

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
