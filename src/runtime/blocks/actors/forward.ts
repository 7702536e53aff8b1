import { ActorError, ActorMovingError } from '../../../errors/actor.errors';
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
    if (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'TimeoutError') {
      // The owner may still run the call: trying again elsewhere could run it twice.
      throw new ActorError(
        'ERR_ACTOR_INVOKE_METHOD',
        `error invoke actor method: ${type}/${id}.${method} forwarded to ${address} got no answer within ${timeoutMs} ms`,
      );
    }
    // Refused: the request never reached the owner, so trying again (elsewhere) cannot run it twice. Any
    // other failure (the owner died mid-call) leaves it unknown whether the call ran: not retried.
    const refused = causeCode(err) === 'ECONNREFUSED';
    throw new ActorError(
      'ERR_ACTOR_INVOKE_METHOD',
      `error invoke actor method: forwarding ${type}/${id}.${method} to ${address} failed: ${errorMessage(err)}${causeText(err)}${refused ? '' : ' (the call may have run)'}`,
      { httpStatus: refused ? 503 : 500, retryable: refused },
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

/** One actor call routed by placement. */
export interface PlacedCall {
  readonly type: string;
  readonly id: string;
  readonly method: string;
  readonly args: readonly unknown[];
  readonly chainId: string;
  /** The call was forwarded here: it is never forwarded again (one hop). */
  readonly forwarded: boolean;
  readonly leaseMs: number;
  /** How long a forwarded call waits for its answer. */
  readonly timeoutMs: number;
  /** Runs the call in this instance. */
  readonly local: () => Promise<unknown>;
  /** A retryable failure that must still end the call (this runtime closing with no lease). */
  readonly giveUp: (err: unknown) => boolean;
}

/**
 * Runs the call where the actor's owner is, here or through the owner's HTTP API. While the actor
 * moves (membership changing, its old owner finishing a turn before it releases the actor), the call
 * is retried transparently, refreshing the membership view, for up to twice the lease plus 2 s; only
 * failures where the call certainly did not run are retried ({@link retryableMove}). A forwarded call
 * retries on its receiver for one lease at most (not at all on a leaving receiver), then tells its
 * sender (503), which retries.
 */
export async function callWhereOwned(placement: ActorPlacement, call: PlacedCall): Promise<unknown> {
  const { type, id } = call;
  const deadline = Date.now() + (call.forwarded ? call.leaseMs : call.leaseMs * 2 + 2000);
  for (let attempt = 0; ; attempt++) {
    try {
      const owner = placement.ownerOf(type, id);
      if (owner === placement.instanceId) return await call.local();
      if (call.forwarded) throw new ActorMovingError(type, id, 'a forwarded call reached an instance that does not own it (membership changing)');
      const address = placement.addressOf(owner);
      if (!address) throw new ActorMovingError(type, id, `its owner ${owner} has no address yet`);
      return await forwardCall(address, type, id, call.method, call.args, call.chainId, call.timeoutMs);
    } catch (err) {
      // A forwarded call on a leaving receiver is refused at once (it will own nothing again): its sender,
      // whose view is fresher than a leaving instance's, retries it (the answer is 503, "did not run").
      if (!retryableMove(err) || Date.now() > deadline || call.giveUp(err) || (call.forwarded && placement.isLeaving)) throw err;
      await new Promise((r) => setTimeout(r, Math.min(250, 20 * 2 ** Math.min(attempt, 4))));
      await placement.heartbeat();
    }
  }
}

/**
 * Whether a failed actor call may be tried again against the (new) owner: only when it certainly did
 * not run: the actor was moving ({@link ActorMovingError}, here or on the instance it was forwarded to),
 * the runtime there was shutting down, or the owner refused the connection. A turn refused by the
 * fencing token ran (its writes were dropped), so it is reported, not run again.
 */
export function retryableMove(err: unknown): boolean {
  if (err instanceof ActorMovingError) return true;
  if (!(err instanceof SidekickError)) return false;
  if (err.code === 'ERR_ACTOR_RUNTIME_CLOSED') return true;
  if (err.code === 'ERR_ACTOR_INSTANCE_MISSING') return err.message.includes(ActorMovingError.MARK);
  return err.code === 'ERR_ACTOR_INVOKE_METHOD' && err.retryable && err.httpStatus === 503;
}

// fetch's errors may come from another realm (a VM context): read them by shape, not instanceof.
function causeOf(err: unknown): { code?: unknown; message?: unknown } | undefined {
  const cause = typeof err === 'object' && err !== null ? (err as { cause?: unknown }).cause : undefined;
  return typeof cause === 'object' && cause !== null ? (cause as { code?: unknown; message?: unknown }) : undefined;
}

function causeText(err: unknown): string {
  const cause = causeOf(err);
  if (!cause) return '';
  const code = causeCode(err);
  return ` (${code ? `${code}: ` : ''}${typeof cause.message === 'string' ? cause.message : 'no detail'})`;
}

function causeCode(err: unknown): string | undefined {
  const code = causeOf(err)?.code;
  return typeof code === 'string' ? code : undefined;
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
