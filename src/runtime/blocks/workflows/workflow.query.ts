import { z } from 'zod';
import { WorkflowApiError } from '../../../errors/workflow.errors';
import { formatIssues } from '../../../errors/zod-issues';
import type { StateService } from '../state/state.service';
import { directoryKey, INDEXED_STATUSES, type IndexPage, pageKey } from './workflow.index';
import type { InstanceRecord, WorkflowState, WorkflowStatus } from './workflow.types';

export const WORKFLOW_STATUSES: readonly WorkflowStatus[] = [...INDEXED_STATUSES, 'CONTINUED_AS_NEW'];
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/**
 * What `WorkflowClient.list` takes (Durable Task's `OrchestrationQuery`): every field narrows the
 * result; none at all lists every instance. Times are the instance's creation (`createdAt`), both
 * bounds included.
 */
export interface WorkflowQuery {
  /** Runtime statuses to list (any of them); default: all. */
  readonly status?: readonly WorkflowStatus[] | WorkflowStatus;
  /** Workflow name (exact). */
  readonly name?: string;
  /** Instance ids starting with this. */
  readonly instanceIdPrefix?: string;
  readonly createdFrom?: Date | number | string;
  readonly createdTo?: Date | number | string;
  /** 1 to 1000; default 100. */
  readonly pageSize?: number;
  /** From the previous page: the page after it. */
  readonly continuationToken?: string;
}

/** One page of instances, ordered by creation time then instance id. */
export interface WorkflowPage {
  readonly instances: WorkflowState[];
  /** Given when more instances may follow: pass it as `continuationToken` for the next page. */
  readonly continuationToken?: string;
}

interface ParsedQuery {
  readonly statuses: readonly WorkflowStatus[];
  readonly name?: string;
  readonly prefix?: string;
  readonly from?: number;
  readonly to?: number;
  readonly pageSize: number;
  readonly after?: Cursor;
}

/** The last instance of a page: the next starts after it. */
interface Cursor {
  readonly c: number;
  readonly i: string;
}

const time = (field: string) =>
  z.union([z.instanceof(Date), z.number(), z.string()], { error: `${field} must be a Date, epoch milliseconds or an RFC 3339 string` }).transform((v, ctx) => {
    const ms = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : Date.parse(v);
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: `${field} is not a valid date (got ${JSON.stringify(v instanceof Date ? 'Invalid Date' : v)})` });
      return z.NEVER;
    }
    return ms;
  });

const statusValue = z.enum(WORKFLOW_STATUSES as [WorkflowStatus, ...WorkflowStatus[]], {
  error: (issue) => `unknown status ${JSON.stringify(issue.input)}; use one of ${WORKFLOW_STATUSES.join(', ')}`,
});

const querySchema = z
  .object({
    status: z
      .preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(statusValue, { error: 'status must be a status or an array of statuses' }))
      .optional(),
    name: z.string({ error: 'name must be a string' }).min(1, 'name must not be empty').optional(),
    instanceIdPrefix: z.string({ error: 'instanceIdPrefix must be a string' }).optional(),
    createdFrom: time('createdFrom').optional(),
    createdTo: time('createdTo').optional(),
    pageSize: z
      .number({ error: 'pageSize must be a number' })
      .int('pageSize must be a whole number')
      .min(1, 'pageSize must be at least 1')
      .max(MAX_PAGE_SIZE, `pageSize must be at most ${MAX_PAGE_SIZE}`)
      .optional(),
    continuationToken: z.string({ error: 'continuationToken must be a string' }).optional(),
  })
  .strict();

const invalid = (detail: string): WorkflowApiError => new WorkflowApiError('ERR_LIST_WORKFLOWS', `invalid workflow query: ${detail}`);

/** Checks a query; a bad one is `ERR_LIST_WORKFLOWS` (HTTP 400) naming the field. */
export function parseWorkflowQuery(query: unknown): ParsedQuery {
  const parsed = querySchema.safeParse(query ?? {});
  if (!parsed.success) throw invalid(formatIssues(parsed.error.issues));
  const q = parsed.data;
  const statuses = q.status ?? WORKFLOW_STATUSES;
  if (q.createdFrom !== undefined && q.createdTo !== undefined && q.createdFrom > q.createdTo) {
    throw invalid(`createdFrom (${new Date(q.createdFrom).toISOString()}) is after createdTo (${new Date(q.createdTo).toISOString()})`);
  }
  return {
    statuses,
    name: q.name,
    prefix: q.instanceIdPrefix,
    from: q.createdFrom,
    to: q.createdTo,
    pageSize: q.pageSize ?? DEFAULT_PAGE_SIZE,
    after: q.continuationToken === undefined || q.continuationToken === '' ? undefined : decodeToken(q.continuationToken),
  };
}

function encodeToken(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

function decodeToken(token: string): Cursor {
  const bad = invalid(`continuationToken ${JSON.stringify(token.slice(0, 40))} is not a token this API returned (pass the one of the previous page, or none)`);
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw bad;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad;
  }
  const cursor = value as Partial<Cursor> | null;
  if (typeof cursor !== 'object' || cursor === null || typeof cursor.c !== 'number' || !Number.isFinite(cursor.c) || typeof cursor.i !== 'string') throw bad;
  return { c: cursor.c, i: cursor.i };
}

const metaKey = (id: string): string => `wf-meta:${id}`;

function stateOf(record: InstanceRecord): WorkflowState {
  const { chunks: _chunks, parent: _parent, ...state } = record;
  return state;
}

/**
 * Lists instances from the status index: reads the directories and pages of the statuses asked for
 * (never a history), orders the matching entries by (createdAt, id), then reads the records of one page and
 * keeps those whose stored status still matches (an entry can be left behind; the record decides).
 */
export async function listInstances(state: StateService, storeName: string, query: WorkflowQuery): Promise<WorkflowPage> {
  const q = parseWorkflowQuery(query);
  const statuses = q.statuses.filter((s) => INDEXED_STATUSES.includes(s));
  const directories = statuses.length === 0 ? [] : await state.bulkGet(storeName, statuses.map(directoryKey));
  const keys = directories.flatMap((d, i) =>
    d.data ? (JSON.parse(d.data.toString('utf8')) as string[]).map((page) => pageKey(statuses[i] as WorkflowStatus, page)) : [],
  );
  const pages = keys.length === 0 ? [] : await state.bulkGet(storeName, keys);
  const created = new Map<string, number>();
  for (const page of pages) {
    if (!page.data) continue;
    for (const [id, [createdAt, name]] of Object.entries(JSON.parse(page.data.toString('utf8')) as IndexPage)) {
      if (q.name !== undefined && name !== q.name) continue;
      if (q.prefix !== undefined && !id.startsWith(q.prefix)) continue;
      if ((q.from !== undefined && createdAt < q.from) || (q.to !== undefined && createdAt > q.to)) continue;
      if (q.after && (createdAt < q.after.c || (createdAt === q.after.c && id <= q.after.i))) continue;
      created.set(id, createdAt);
    }
  }
  const candidates = [...created].sort(([a, ca], [b, cb]) => ca - cb || (a < b ? -1 : a > b ? 1 : 0));
  const instances: WorkflowState[] = [];
  let next = 0;
  while (instances.length < q.pageSize && next < candidates.length) {
    const chunk = candidates.slice(next, next + (q.pageSize - instances.length));
    next += chunk.length;
    const records = await state.bulkGet(
      storeName,
      chunk.map(([id]) => metaKey(id)),
    );
    for (const item of records) {
      if (!item.data) continue; // purged since the index was read
      const record = JSON.parse(item.data.toString('utf8')) as InstanceRecord;
      if (!statuses.includes(record.status) || (q.name !== undefined && record.name !== q.name)) continue;
      instances.push(stateOf(record));
    }
  }
  const last = candidates[next - 1];
  return next < candidates.length && last !== undefined ? { instances, continuationToken: encodeToken({ c: last[1], i: last[0] }) } : { instances };
}
