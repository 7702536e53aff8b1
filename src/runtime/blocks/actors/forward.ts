import { ActorError } from '../../../errors/actor.errors';
import { errorMessage } from '../../../errors/sidekick.error';

/** Header marking a call forwarded by placement (the receiver never forwards it again: one hop). */
export const FORWARDED_HEADER = 'x-sidekick-actor-forwarded';

/**
 * Calls an actor method on the instance at `address` through its Dapr HTTP API, carrying the call
 * chain (`Dapr-Reentrancy-Id`). The answer's JSON is the result; an error body becomes an ActorError
 * with the remote code and status (network failures are retryable).
 */
export async function forwardCall(address: string, type: string, id: string, method: string, args: readonly unknown[], chainId: string): Promise<unknown> {
  const url = `${address}/v1.0/actors/${encodeURIComponent(type)}/${encodeURIComponent(id)}/method/${encodeURIComponent(method)}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'dapr-reentrancy-id': chainId, [FORWARDED_HEADER]: '1' },
      body: JSON.stringify(args),
    });
  } catch (err) {
    throw new ActorError(
      'ERR_ACTOR_INVOKE_METHOD',
      `error invoke actor method: forwarding ${type}/${id}.${method} to ${address} failed: ${errorMessage(err)}`,
      {
        httpStatus: 503,
        retryable: true,
      },
    );
  }
  const text = await res.text();
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
