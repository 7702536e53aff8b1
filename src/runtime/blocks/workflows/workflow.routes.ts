import { type ApiContext, ApiError, type ApiRoute, parseJsonBody, sendJson } from '../../http-api/api-context';
import type { WorkflowClient } from './workflow.client';
import type { WorkflowState } from './workflow.types';

const VERSIONS = ['v1.0-alpha1', 'v1.0-beta1', 'v1.0'] as const;

/**
 * daprd's workflow API under `/v1.0-alpha1`, `/v1.0-beta1` and `/v1.0` (the component segment,
 * `dapr`, is not checked, as in daprd): start (202 `{instanceID}`), get (200, daprd's body), raise
 * event, pause, resume, terminate, purge (202 `{}`).
 */
export function workflowRoutes(client: WorkflowClient): ApiRoute[] {
  const start = async (ctx: ApiContext): Promise<void> => {
    const name = ctx.params['name'] ?? '';
    if (name === '') throw new ApiError(400, 'ERR_WORKFLOW_NAME_MISSING', 'workflow name is not configured');
    const given = ctx.query.get('instanceID');
    const input = await bodyValue(ctx, 'the workflow input');
    const instanceId = await client.schedule(name, { instanceId: given === null || given === '' ? undefined : given, input });
    sendJson(ctx.res, 202, { instanceID: instanceId });
  };
  const get = async (ctx: ApiContext): Promise<void> => {
    const id = instanceId(ctx);
    const state = await client.get(id);
    if (!state) throw new ApiError(404, 'ERR_INSTANCE_ID_NOT_FOUND', `unable to find workflow with instance ID '${id}'`);
    sendJson(ctx.res, 200, toDaprBody(state));
  };
  const raise = async (ctx: ApiContext): Promise<void> => {
    const id = instanceId(ctx);
    const event = ctx.params['event'] ?? '';
    if (event === '') throw new ApiError(400, 'ERR_WORKFLOW_EVENT_NAME_MISSING', 'missing workflow event name');
    await client.raiseEvent(id, event, await bodyValue(ctx, 'the event data'));
    sendJson(ctx.res, 202, {});
  };
  const simple =
    (op: (id: string) => Promise<void>) =>
    async (ctx: ApiContext): Promise<void> => {
      await op(instanceId(ctx));
      sendJson(ctx.res, 202, {});
    };
  return VERSIONS.flatMap((v): ApiRoute[] => {
    const base = `/${v}/workflows/:component`;
    return [
      { name: 'workflows.start', methods: ['POST'], path: `${base}/:name/start`, errorCode: 'ERR_START_WORKFLOW', handler: start },
      { name: 'workflows.get', methods: ['GET'], path: `${base}/:instanceId`, errorCode: 'ERR_GET_WORKFLOW', handler: get },
      { name: 'workflows.raiseEvent', methods: ['POST'], path: `${base}/:instanceId/raiseEvent/:event`, errorCode: 'ERR_RAISE_EVENT_WORKFLOW', handler: raise },
      {
        name: 'workflows.pause',
        methods: ['POST'],
        path: `${base}/:instanceId/pause`,
        errorCode: 'ERR_PAUSE_WORKFLOW',
        handler: simple((id) => client.suspend(id)),
      },
      {
        name: 'workflows.resume',
        methods: ['POST'],
        path: `${base}/:instanceId/resume`,
        errorCode: 'ERR_RESUME_WORKFLOW',
        handler: simple((id) => client.resume(id)),
      },
      {
        name: 'workflows.terminate',
        methods: ['POST'],
        path: `${base}/:instanceId/terminate`,
        errorCode: 'ERR_TERMINATE_WORKFLOW',
        handler: simple((id) => client.terminate(id)),
      },
      {
        name: 'workflows.purge',
        methods: ['POST'],
        path: `${base}/:instanceId/purge`,
        errorCode: 'ERR_PURGE_WORKFLOW',
        handler: simple((id) => client.purge(id)),
      },
    ];
  });
}

function instanceId(ctx: ApiContext): string {
  const id = ctx.params['instanceId'] ?? '';
  if (id === '') throw new ApiError(400, 'ERR_INSTANCE_ID_PROVIDED_MISSING', 'no instance ID was provided');
  return id;
}

/**
 * The body as the value: JSON when it is labelled JSON or not labelled (malformed JSON is rejected up
 * front with 400; daprd passes the bytes on), else its text (`@dapr/dapr` sends strings as text/plain).
 * An empty body is no value.
 */
export async function bodyValue(ctx: ApiContext, what: string): Promise<unknown> {
  const body = await ctx.body();
  if (body.length === 0) return undefined;
  const type = (ctx.req.headers['content-type'] ?? '').toLowerCase();
  return type === '' || type.includes('json') ? parseJsonBody(body, what) : body.toString('utf8');
}

/** daprd's GET body: times in RFC 3339, input/output/custom status as JSON text in `properties`. */
export function toDaprBody(state: WorkflowState): Record<string, unknown> {
  const properties: Record<string, string> = {};
  if (state.input !== undefined) properties['dapr.workflow.input'] = JSON.stringify(state.input);
  if (state.output !== undefined) properties['dapr.workflow.output'] = JSON.stringify(state.output);
  if (state.customStatus !== undefined) properties['dapr.workflow.custom_status'] = JSON.stringify(state.customStatus);
  if (state.failure) {
    properties['dapr.workflow.failure.error_type'] = state.failure.errorType;
    properties['dapr.workflow.failure.error_message'] = state.failure.message;
    if (state.failure.stackTrace !== undefined) properties['dapr.workflow.failure.stack_trace'] = state.failure.stackTrace;
  }
  return {
    instanceID: state.instanceId,
    workflowName: state.name,
    createdAt: new Date(state.createdAt).toISOString(),
    lastUpdatedAt: new Date(state.lastUpdatedAt).toISOString(),
    runtimeStatus: state.status,
    properties,
  };
}
