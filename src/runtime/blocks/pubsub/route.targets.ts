import { InvokeError } from '../../../errors/invoke.errors';
import type { InvokeService } from '../invoke/invoke.service';
import type { Interception } from '../../interception/interception';
import { withIncomingTraceContext } from '../../interception/trace-context';
import type { BulkResult, BulkEventStatus, DiscoveredSubscription, Outcome, RouteTarget, SubscriptionSpec, TopicEvent } from './pubsub.types';
import { outcomeOf } from './outcome';
import { isRetryable } from '../../resiliency/retry.policy';

/** A `@Subscribe` method as a route. */
export function methodTarget(found: DiscoveredSubscription): RouteTarget {
  const method = (found.instance as Record<string, unknown>)[found.methodName] as (arg: unknown) => unknown;
  const rules = found.options.rules?.map((r) => r.match) ?? [];
  return {
    name: found.name,
    rules,
    deliver: (event) => outcomeOf(() => method.call(found.instance, event)),
    deliverBulk: async (events) => (await method.call(found.instance, events)) as BulkResult,
  };
}

/**
 * A route whose deliveries run through the `delivery` interceptors (installed only when some are).
 * The interceptors see a delivery that ends in a retry as a failure, and a drop as a success.
 */
export function interceptedTarget(target: RouteTarget, spec: Pick<SubscriptionSpec, 'pubsub' | 'topic'>, interception: Interception): RouteTarget {
  const call = { kind: 'delivery' as const, target: spec.pubsub, type: 'pubsub', operation: target.name, attributes: { topic: spec.topic } };
  const bulkCall = { ...call, attributes: { topic: spec.topic, bulk: 'true' } };
  return {
    name: target.name,
    path: target.path,
    rules: target.rules,
    // The delivery continues the trace of the publish (the event's traceparent), not the consumer loop's.
    deliver: (event) =>
      withIncomingTraceContext(
        event.envelope,
        () =>
          interception.run(call, async () => {
            const outcome = await target.deliver(event);
            if (outcome.status === 'retry') throw new RetrySignal(outcome);
            return outcome;
          }),
        true,
      ).catch((err: unknown) => (err instanceof RetrySignal ? err.outcome : failureOutcome(err))),
    deliverBulk: (events) => interception.run(bulkCall, () => target.deliverBulk(events)),
  };
}

/** Carries a retry outcome through the interceptors as a thrown error (its cause is the handler's error). */
class RetrySignal extends Error {
  constructor(readonly outcome: Extract<Outcome, { status: 'retry' }>) {
    super(outcome.error.message, { cause: outcome.error });
  }

  /** Whether retrying can help (a resiliency policy around the delivery reads it). */
  get retryable(): boolean {
    return this.outcome.retryable;
  }
}

/** An interceptor's error: retried unless it says `retryable: false` (a resiliency policy that gave up). */
function failureOutcome(err: unknown): Outcome {
  return { status: 'retry', error: err instanceof Error ? err : new Error(String(err)), retryable: isRetryable(err) };
}

/**
 * A path of this app's own HTTP server, as daprd delivers declarative subscriptions: POST with the
 * CloudEvent, dispatched in-process. The reply follows Dapr's rules: 2xx + SUCCESS/empty = ack,
 * RETRY (or any other status value) = retry, DROP = drop, 404 = drop, anything else = retry.
 */
export function httpTarget(
  invoke: InvokeService,
  appId: string,
  path: string,
  rules: readonly string[],
  pubsub: string,
  contentType = 'application/json',
): RouteTarget {
  const method = path.replace(/^\/+/, '');
  // daprd labels the body application/cloudevents+json; Nest's default body parser only reads
  // application/json, so Sidekick labels it that way in-process (README, "Choices"); an app behind
  // the sidecar gets daprd's label (`contentType`).
  const headers = { 'content-type': contentType, 'ce-specversion': '1.0', pubsubname: pubsub };
  return {
    name: `POST /${method}`,
    path: `/${method}`,
    rules,
    deliver: async (event): Promise<Outcome> => {
      try {
        const res = await invoke.invoke(appId, { verb: 'POST', method, headers, body: Buffer.from(JSON.stringify(event.envelope)), delivery: true });
        return httpOutcome(res.status, res.body, method);
      } catch (err) {
        return { status: 'retry', error: err instanceof Error ? err : new Error(String(err)), retryable: true };
      }
    },
    deliverBulk: async (events: readonly TopicEvent[]): Promise<BulkResult> => {
      const body = {
        id: events[0]?.id ?? '',
        type: 'com.dapr.event.sent.bulk',
        topic: events[0]?.topic,
        pubsubname: pubsub,
        metadata: {},
        entries: events.map((e) => ({ entryId: e.id, event: e.envelope, metadata: e.metadata, contentType: 'application/cloudevents+json' })),
      };
      const res = await invoke.invoke(appId, {
        verb: 'POST',
        method,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(body)),
        delivery: true,
      });
      if (res.status === 404) return Object.fromEntries(events.map((e): [string, BulkEventStatus] => [e.id, 'DROP']));
      if (res.status < 200 || res.status >= 300) throw new InvokeError(appId, `bulk delivery to /${method} answered ${res.status}`, { retryable: true });
      const statuses = parseStatuses(res.body);
      // Unlike single delivery, a missing or unparsable status means RETRY (Dapr's rule).
      return Object.fromEntries(events.map((e): [string, BulkEventStatus] => [e.id, statuses.get(e.id) ?? 'RETRY']));
    },
  };
}

function httpOutcome(status: number, body: Buffer, method: string): Outcome {
  if (status === 404) return { status: 'drop', reason: `/${method} answered 404` };
  if (status < 200 || status >= 300) {
    return { status: 'retry', error: new Error(`/${method} answered ${status}: ${body.toString('utf8').slice(0, 200)}`), retryable: true };
  }
  let reply: unknown;
  try {
    reply = body.length === 0 ? undefined : JSON.parse(body.toString('utf8'));
  } catch {
    return { status: 'success' };
  }
  const value = typeof reply === 'object' && reply !== null ? (reply as { status?: unknown }).status : undefined;
  if (value === undefined || value === '' || value === 'SUCCESS') return { status: 'success' };
  if (value === 'DROP') return { status: 'drop', reason: `/${method} answered DROP` };
  return { status: 'retry', error: new Error(`/${method} answered status ${String(value)}`), retryable: true };
}

function parseStatuses(body: Buffer): Map<string, BulkEventStatus> {
  const out = new Map<string, BulkEventStatus>();
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { statuses?: { entryId?: unknown; status?: unknown }[] };
    for (const s of parsed.statuses ?? []) {
      if (typeof s.entryId === 'string' && (s.status === 'SUCCESS' || s.status === 'DROP' || s.status === 'RETRY')) out.set(s.entryId, s.status);
    }
  } catch {
    // unparsable: every entry is retried
  }
  return out;
}
