import { type ApiContext, ApiError, type ApiRoute, sendJson } from '../../http-api/api-context';
import type { WorkflowClient } from './workflow.client';
import type { WorkflowQuery } from './workflow.query';
import { bodyValue, toDaprBody } from './workflow.routes';
import type { WorkflowState } from './workflow.types';

/** Sidekick's own workflow routes (daprd has no counterpart), under a prefix daprd never serves. */
export const SIDEKICK_WORKFLOWS_PATH = '/sidekick/v1.0/workflows';

/**
 * - `GET /sidekick/v1.0/workflows?status=RUNNING&status=SUSPENDED&name=&instanceIdPrefix=&createdFrom=&createdTo=&pageSize=&continuationToken=`
 *   → 200 `{instances: [daprd's GET body + scheduledStartAt?], continuationToken?}` (`status` may also be
 *   comma-separated); a bad query is 400 `ERR_LIST_WORKFLOWS`.
 * - `POST /sidekick/v1.0/workflows/{name}/start?instanceID=&startTime=<RFC 3339>`: daprd's start route
 *   plus a start time (daprd's has none) → 202 `{instanceID}`.
 */
export function workflowQueryRoutes(client: WorkflowClient): ApiRoute[] {
  const list = async (ctx: ApiContext): Promise<void> => {
    const page = await client.list(queryOf(ctx.query));
    const body: Record<string, unknown> = { instances: page.instances.map(toListBody) };
    if (page.continuationToken !== undefined) body['continuationToken'] = page.continuationToken;
    sendJson(ctx.res, 200, body);
  };
  const start = async (ctx: ApiContext): Promise<void> => {
    const name = ctx.params['name'] ?? '';
    if (name === '') throw new ApiError(400, 'ERR_WORKFLOW_NAME_MISSING', 'workflow name is not configured');
    const given = ctx.query.get('instanceID');
    const startTime = ctx.query.get('startTime');
    const input = await bodyValue(ctx, 'the workflow input');
    const instanceId = await client.schedule(name, {
      instanceId: given === null || given === '' ? undefined : given,
      input,
      startAt: startTime === null || startTime === '' ? undefined : startTime,
    });
    sendJson(ctx.res, 202, { instanceID: instanceId });
  };
  return [
    { name: 'workflows.list', methods: ['GET'], path: SIDEKICK_WORKFLOWS_PATH, errorCode: 'ERR_LIST_WORKFLOWS', handler: list },
    { name: 'workflows.scheduleAt', methods: ['POST'], path: `${SIDEKICK_WORKFLOWS_PATH}/:name/start`, errorCode: 'ERR_START_WORKFLOW', handler: start },
  ];
}

/** The query string as a `WorkflowQuery` (checked by the client: unknown parameters are refused there too). */
function queryOf(params: URLSearchParams): WorkflowQuery {
  const query: Record<string, unknown> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    if (key === 'status') query['status'] = values.flatMap((v) => v.split(',')).filter((v) => v !== '');
    else if (key === 'pageSize') query['pageSize'] = /^\d+$/.test(values[0] ?? '') ? Number(values[0]) : values[0];
    else query[key] = values[0];
  }
  return query as WorkflowQuery; // checked field by field by the client (parseWorkflowQuery)
}

function toListBody(state: WorkflowState): Record<string, unknown> {
  const body = toDaprBody(state);
  if (state.scheduledStartAt !== undefined) body['scheduledStartAt'] = new Date(state.scheduledStartAt).toISOString();
  return body;
}
