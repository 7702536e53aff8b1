import { z } from 'zod';
import { ActorError, ActorMethodFailedError } from '../../../errors/actor.errors';
import { type ApiContext, ApiError, type ApiRoute, header, parseJsonBody, sendJson, sendNoContent, validateBody } from '../../http-api/api-context';
import type { ActorStateOp } from './actor-store';
import type { ActorsService } from './actors.service';
import { RawActorCall, RawActorReply } from './actor-host';
import { FORWARDED_HEADER } from './forward';
import type { ReminderScheduler } from './reminders';

const text = z.union([z.string(), z.number()]).transform(String).nullish();
const scheduleBody = z.object({ dueTime: text, period: text, ttl: text, data: z.unknown().optional(), overwrite: z.boolean().nullish(), callback: text });
const txBody = z.array(
  z.object({
    operation: z.string(),
    request: z.object({
      key: z.string().min(1, 'key must not be empty'),
      value: z.unknown().optional(),
      metadata: z.record(z.string(), z.unknown()).nullish(),
    }),
  }),
  { error: 'the body must be a JSON array of {operation, request: {key, value}}' },
);
const SCHEDULE = { dueTime: null, period: null, ttl: null, data: null, overwrite: null, callback: null } as const;
const TRANSACTION = { operation: null, request: { key: null, value: null, metadata: null } } as const;

/** `/v1.0/actors/...`: method calls, state, timers and reminders, as daprd serves them. */
export function actorsRoutes(actors: ActorsService, reminders: () => ReminderScheduler): ApiRoute[] {
  const invoke = async (ctx: ApiContext): Promise<void> => {
    const { type, id } = names(ctx);
    const method = ctx.params['*'] ?? '';
    checkName(method, 'method');
    // An actor of the app behind the sidecar takes the body as it is, and its reply goes back as it is.
    await actors.typeKnown(type);
    const appHosted = actors.isAppHosted(type);
    const args = appHosted ? [rawCall(ctx, await ctx.body())] : argsOf(await ctx.body(), header(ctx, 'content-type'));
    let result: unknown;
    try {
      result = await actors.invoke(type, id, method, args, header(ctx, 'dapr-reentrancy-id'), header(ctx, FORWARDED_HEADER) === '1');
    } catch (err) {
      throw err instanceof ActorError ? err : new ActorMethodFailedError(type, id, method, err);
    }
    if (result instanceof RawActorReply) {
      const headers = Object.fromEntries(Object.entries(result.headers).filter(([name]) => name !== 'content-length'));
      ctx.res.writeHead(result.status, { ...headers, 'content-length': result.body.length });
      ctx.res.end(result.body);
    } else if (result === undefined) {
      ctx.res.writeHead(200, { 'content-length': 0 });
      ctx.res.end();
    } else if (Buffer.isBuffer(result)) {
      ctx.res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': result.length });
      ctx.res.end(result);
    } else sendJson(ctx.res, 200, result);
  };

  const transaction = async (ctx: ApiContext): Promise<void> => {
    const { type, id } = names(ctx);
    const ops = validateBody(txBody, parseJsonBody(await ctx.body(), 'actor state transaction', TRANSACTION), 'ERR_MALFORMED_REQUEST');
    const changes: ActorStateOp[] = ops.map((op) => {
      if (op.operation === 'upsert') return { key: op.request.key, value: JSON.stringify(op.request.value ?? null) };
      if (op.operation === 'delete') return { key: op.request.key, delete: true };
      throw new ApiError(400, 'ERR_NOT_SUPPORTED_STATE_OPERATION', `operation type ${op.operation} not supported (use upsert or delete)`);
    });
    for (const op of changes) if (op.key.includes('||')) throw new ApiError(400, 'ERR_MALFORMED_REQUEST', `input key '${op.key}' can't contain '||'`);
    await actors.transact(type, id, changes);
    sendNoContent(ctx.res);
  };

  const getState = async (ctx: ApiContext): Promise<void> => {
    const { type, id } = names(ctx);
    const data = await actors.getState(type, id, ctx.params['*'] ?? '');
    if (!data) return sendNoContent(ctx.res);
    ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': data.length });
    ctx.res.end(data);
  };

  const createReminder = async (ctx: ApiContext): Promise<void> => {
    const { type, id, name } = names(ctx);
    const body = scheduleOf(await ctx.body(), 'actor reminder');
    await reminders().register(
      type,
      id,
      name,
      { dueTime: body.dueTime ?? undefined, period: body.period ?? undefined, ttl: body.ttl ?? undefined, data: body.data },
      body.overwrite ?? true,
    );
    sendNoContent(ctx.res);
  };

  const getReminder = async (ctx: ApiContext): Promise<void> => {
    const { type, id, name } = names(ctx);
    const found = await reminders().get(type, id, name);
    if (!found) throw new ApiError(404, 'ERR_ACTOR_REMINDER_NOT_FOUND', `reminder "${name}" of actor ${type}/${id} was not found`);
    const expires = reminders().expiry(type, id, name);
    const doc: Record<string, unknown> = { actorID: id, actorType: type };
    if (found.dueTime) doc['dueTime'] = found.dueTime;
    if (found.period) doc['period'] = found.period;
    if (expires !== undefined) doc['ttl'] = new Date(expires).toISOString();
    if (found.data !== undefined) doc['data'] = found.data;
    sendJson(ctx.res, 200, doc);
  };

  const deleteReminder = async (ctx: ApiContext): Promise<void> => {
    const { type, id, name } = names(ctx);
    await reminders().unregister(type, id, name);
    sendNoContent(ctx.res);
  };

  const createTimer = async (ctx: ApiContext): Promise<void> => {
    const { type, id, name } = names(ctx);
    const body = scheduleOf(await ctx.body(), 'actor timer');
    if (!body.callback)
      throw new ActorError('ERR_ACTOR_TIMER_CREATE', `error creating actor timer "${name}": "callback" (the actor method to call) is required`);
    await actors.registerTimer(
      type,
      id,
      name,
      body.callback,
      { dueTime: body.dueTime ?? undefined, period: body.period ?? undefined, ttl: body.ttl ?? undefined, data: body.data },
      header(ctx, FORWARDED_HEADER) === '1',
    );
    sendNoContent(ctx.res);
  };

  const deleteTimer = async (ctx: ApiContext): Promise<void> => {
    const { type, id, name } = names(ctx);
    actors.unregisterTimer(type, id, name);
    sendNoContent(ctx.res);
  };

  const base = '/v1.0/actors/:type/:id';
  const write = ['POST', 'PUT'] as const;
  return [
    { name: 'actors.invoke', methods: ['GET', 'POST', 'PUT', 'DELETE'], path: `${base}/method/*`, errorCode: 'ERR_ACTOR_INVOKE_METHOD', handler: invoke },
    { name: 'actors.state.transaction', methods: write, path: `${base}/state`, errorCode: 'ERR_ACTOR_STATE_TRANSACTION_SAVE', handler: transaction },
    { name: 'actors.state.get', methods: ['GET'], path: `${base}/state/*`, errorCode: 'ERR_ACTOR_STATE_GET', handler: getState },
    { name: 'actors.reminders.create', methods: write, path: `${base}/reminders/:name`, errorCode: 'ERR_ACTOR_REMINDER_CREATE', handler: createReminder },
    { name: 'actors.reminders.get', methods: ['GET'], path: `${base}/reminders/:name`, errorCode: 'ERR_ACTOR_REMINDER_GET', handler: getReminder },
    { name: 'actors.reminders.delete', methods: ['DELETE'], path: `${base}/reminders/:name`, errorCode: 'ERR_ACTOR_REMINDER_DELETE', handler: deleteReminder },
    { name: 'actors.timers.create', methods: write, path: `${base}/timers/:name`, errorCode: 'ERR_ACTOR_TIMER_CREATE', handler: createTimer },
    { name: 'actors.timers.delete', methods: ['DELETE'], path: `${base}/timers/:name`, errorCode: 'ERR_ACTOR_TIMER_DELETE', handler: deleteTimer },
  ];
}

function names(ctx: ApiContext): { type: string; id: string; name: string } {
  const type = ctx.params['type'] ?? '';
  const id = ctx.params['id'] ?? '';
  checkName(type, 'actor type');
  checkName(id, 'actor id');
  const name = ctx.params['name'];
  if (name !== undefined) checkName(name, 'name');
  return { type, id, name: name ?? '' };
}

/** daprd refuses names holding `/ \ # ?`, NUL or control characters, and `.`/`..`. */
function checkName(value: string, what: string): void {
  if (value === '' || value === '.' || value === '..' || /[/\\#?\u0000-\u001f\u007f]/.test(value)) {
    throw new ApiError(400, 'ERR_BAD_REQUEST', `invalid ${what} "${value}": it must not be empty, "." or "..", nor contain / \\ # ? or control characters`);
  }
}

/** Request headers not passed on to the app (hop-by-hop, the body's framing, the sidecar's own). */
const NOT_FORWARDED = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-type',
  'dapr-api-token',
  'expect',
  'upgrade',
  'dapr-reentrancy-id',
  FORWARDED_HEADER,
]);

/** The call as bytes for an actor of the app behind the sidecar: body, content type, headers and query as the caller sent them. */
function rawCall(ctx: ApiContext, body: Buffer): RawActorCall {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    if (value === undefined || NOT_FORWARDED.has(name)) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return new RawActorCall(body, header(ctx, 'content-type'), headers, ctx.rawQuery);
}

/** The method's arguments: a JSON array is spread (what `@dapr/dapr`'s proxy sends), other JSON is one argument, no body none. */
function argsOf(body: Buffer, contentType: string | undefined): unknown[] {
  if (body.length === 0) return [];
  const isJson = contentType === undefined || /json/i.test(contentType);
  if (!isJson) return [body.toString('utf8')];
  const value = parseJsonBody(body, 'actor method call');
  return Array.isArray(value) ? value : [value];
}

function scheduleOf(body: Buffer, what: string): z.output<typeof scheduleBody> {
  if (body.length === 0) return {};
  return validateBody(scheduleBody, parseJsonBody(body, what, SCHEDULE), 'ERR_MALFORMED_REQUEST');
}
