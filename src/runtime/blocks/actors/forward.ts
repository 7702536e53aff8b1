import { ActorError, ActorNotHostedError } from '../../../errors/actor.errors';
import { errorMessage, SidekickError } from '../../../errors/sidekick.error';
import { RawActorCall, RawActorReply } from './actor-host';
import type { ActorPlacement } from './placement';

/** Header marking a call forwarded by placement (the receiver never forwards it again: one hop). */
export const FORWARDED_HEADER = 'x-sidekick-actor-forwarded';

/**
 * Calls an actor method on the instance at `address` through its Dapr HTTP API, carrying the call
 * chain (`Dapr-Reentrancy-Id`). The answer's JSON is the result; an error body becomes an ActorError
 * with the remote code and status (network failures are retryable).
 */
export async function forwardCall(
  address: string,
  type: string,
  id: string,
  method: string,
  args: readonly unknown[],
  chainId: string,
  timeoutMs: number,
): Promise<unknown> {
  // An actor of the app behind the sidecar: the caller's bytes go on as they are, and the reply comes back as it is.
  const raw = args[0] instanceof RawActorCall ? args[0] : undefined;
  const query = raw?.query ? `?${raw.query}` : '';
  const url = `${address}/v1.0/actors/${encodeURIComponent(type)}/${encodeURIComponent(id)}/method/${encodeURIComponent(method)}${query}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'PUT',
      headers: { ...raw?.headers, 'content-type': raw?.contentType ?? 'application/json', 'dapr-reentrancy-id': chainId, [FORWARDED_HEADER]: '1' },
      body: raw ? raw.body : JSON.stringify(args),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    if (err instanceof Error && err.name === 'TimeoutError') {
      // The owner may still run the call: trying again elsewhere could run it twice.
      throw new ActorError(
        'ERR_ACTOR_INVOKE_METHOD',
        `error invoke actor method: ${type}/${id}.${method} forwarded to ${address} got no answer within ${timeoutMs} ms`,
      );
    }
    throw new ActorError(
      'ERR_ACTOR_INVOKE_METHOD',
      `error invoke actor method: forwarding ${type}/${id}.${method} to ${address} failed: ${errorMessage(err)}`,
      {
        httpStatus: 503,
        retryable: true,
      },
    );
  }
  if (raw && res.status === 200) {
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      if (name !== 'connection' && name !== 'keep-alive' && name !== 'transfer-encoding') headers[name] = value;
    });
    return new RawActorReply(res.status, headers, Buffer.from(await res.arrayBuffer()));
  }
  const text = await res.text().catch(() => '');
  if (res.status === 200) return text === '' ? undefined : (JSON.parse(text) as unknown);
  let code = 'ERR_ACTOR_INVOKE_METHOD';
  let message = text;
  try {
    const body = JSON.parse(text) as { errorCode?: string; message?: string };
    code = body.errorCode ?? code;
    message = body.message ?? text;
  } catch {
    // not JSON: keep the text
  }
  throw new ActorError(code, message, { httpStatus: res.status, retryable: res.status === 503 });
}

/**
 * Calls the owner of `type`/`id` (or `local()` when that is this instance), retrying while membership
 * changes (the owner unreachable, or answering that it does not own the actor) for `retryForMs`,
 * refreshing the membership view between attempts.
 */
export async function forwardToOwner(
  placement: ActorPlacement,
  type: string,
  id: string,
  method: string,
  args: readonly unknown[],
  chainId: string,
  options: { retryForMs: number; timeoutMs: number; local: () => Promise<unknown> },
): Promise<unknown> {
  const deadline = Date.now() + options.retryForMs;
  for (let attempt = 0; ; attempt++) {
    const owner = placement.ownerOf(type, id);
    if (owner === placement.instanceId) return options.local();
    const address = placement.addressOf(owner);
    try {
      if (!address) throw new ActorNotHostedError(type, id, `owner ${owner} has no address`);
      return await forwardCall(address, type, id, method, args, chainId, options.timeoutMs);
    } catch (err) {
      const retry = !(err instanceof SidekickError) || err.code === 'ERR_ACTOR_INSTANCE_MISSING' || err.httpStatus === 503;
      if (!retry || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, Math.min(500, 50 * 2 ** Math.min(attempt, 4))));
      await placement.heartbeat();
    }
  }
}

/** Registers a timer on the instance that owns the actor (timers live with its activation). */
export async function forwardTimer(address: string, type: string, id: string, name: string, body: Record<string, unknown>): Promise<void> {
  const url = `${address}/v1.0/actors/${encodeURIComponent(type)}/${encodeURIComponent(id)}/timers/${encodeURIComponent(name)}`;
  const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json', [FORWARDED_HEADER]: '1' }, body: JSON.stringify(body) });
  if (res.status === 204) return;
  const text = await res.text().catch(() => '');
  const parsed = ((): { errorCode?: string; message?: string } => {
    try {
      return JSON.parse(text) as { errorCode?: string; message?: string };
    } catch {
      return {};
    }
  })();
  throw new ActorError(parsed.errorCode ?? 'ERR_ACTOR_TIMER_CREATE', parsed.message ?? text, { httpStatus: res.status });
}
