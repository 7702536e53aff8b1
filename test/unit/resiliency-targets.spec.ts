import { parseResiliency } from '../../src/config/resiliency.loader';
import { MetricsService } from '../../src/runtime/blocks/metrics/metrics.service';
import { ResiliencyService } from '../../src/runtime/blocks/resiliency/resiliency.service';
import { silentLogger, VirtualClock } from '../../src/testing';
import type { CallInfo } from '../../src/spi';

const log = { warn: () => undefined };
const metrics = new MetricsService('app', undefined, { enabled: false, host: '127.0.0.1', port: 0 }, silentLogger);

function service(spec: unknown): ResiliencyService {
  const s = new ResiliencyService(new VirtualClock(), silentLogger, metrics);
  s.load([parseResiliency({ apiVersion: 'dapr.io/v1alpha1', kind: 'Resiliency', metadata: { name: 'r' }, spec }, 'r.yaml', log)]);
  return s;
}

const state = (target: string, operation = 'get'): CallInfo => ({ kind: 'component', target, type: 'state.redis', operation });
const publish: CallInfo = { kind: 'component', target: 'bus', type: 'pubsub.redis', operation: 'publish', attributes: { topic: 't' } };
const subscribe: CallInfo = { kind: 'component', target: 'bus', type: 'pubsub.redis', operation: 'subscribe' };
const delivery: CallInfo = { kind: 'delivery', target: 'bus', type: 'pubsub', operation: 'H.on', attributes: { topic: 't' } };
const invoke: CallInfo = { kind: 'invoke', target: 'orders', type: 'app', operation: 'neworder' };
const api: CallInfo = { kind: 'api', target: 'state.get', type: 'http', operation: 'GET /v1.0/state/:store/*' };

describe('which policies apply to a call', () => {
  it('targets: apps for invoke, components outbound for their calls, inbound for deliveries; nothing else', () => {
    const s = service({
      policies: { retries: { r: { maxRetries: 2 } }, timeouts: { t: '1s' } },
      targets: {
        apps: { orders: { retry: 'r' } },
        components: { store: { outbound: { timeout: 't' } }, bus: { outbound: { retry: 'r' }, inbound: { timeout: 't' } } },
      },
    });
    expect(s.policiesFor(invoke)).toMatchObject({ target: 'app_orders', direction: 'outbound' });
    expect(s.policiesFor(invoke)?.retry?.maxRetries).toBe(2);
    expect(s.policiesFor(state('store'))).toMatchObject({ target: 'statestore_store', direction: 'outbound' });
    expect(s.policiesFor(state('store'))?.timeout?.ms).toBe(1000);
    expect(s.policiesFor(publish)).toMatchObject({ target: 'pubsub_bus', direction: 'outbound' });
    expect(s.policiesFor(delivery)).toMatchObject({ target: 'pubsub_bus', direction: 'inbound' });
    expect(s.policiesFor(delivery)?.retry).toBeUndefined();
    expect(s.policiesFor(subscribe)).toBeUndefined();
    expect(s.policiesFor(api)).toBeUndefined();
    expect(s.policiesFor(state('other'))).toBeUndefined();
    expect(s.policiesFor({ ...invoke, target: 'payments' })).toBeUndefined();
  });

  it("Dapr's default policies, most specific first, where a target names none of that kind", () => {
    const s = service({
      policies: {
        retries: { DefaultRetryPolicy: { maxRetries: 1 }, DefaultStatestoreComponentOutboundRetryPolicy: { maxRetries: 5 }, mine: { maxRetries: 9 } },
        timeouts: { DefaultAppTimeoutPolicy: '2s' },
      },
      targets: { components: { special: { outbound: { retry: 'mine' } } } },
    });
    expect(s.policiesFor(state('any'))?.retry?.maxRetries).toBe(5);
    expect(s.policiesFor(state('special'))?.retry?.maxRetries).toBe(9);
    expect(s.policiesFor(publish)?.retry?.maxRetries).toBe(1);
    expect(s.policiesFor(invoke)?.retry?.maxRetries).toBe(1);
    expect(s.policiesFor(invoke)?.timeout?.ms).toBe(2000);
    expect(s.policiesFor(publish)?.timeout).toBeUndefined();
  });

  it('one circuit breaker per target, kept across calls', () => {
    const s = service({
      policies: { circuitBreakers: { cb: { trip: 'consecutiveFailures > 2' } } },
      targets: { components: { a: { outbound: { circuitBreaker: 'cb' } }, b: { outbound: { circuitBreaker: 'cb' } } } },
    });
    const a = s.policiesFor(state('a'))?.circuitBreaker;
    expect(a?.name).toBe('cb-a');
    expect(s.policiesFor(state('a', 'set'))?.circuitBreaker).toBe(a);
    expect(s.policiesFor(state('b'))?.circuitBreaker?.name).toBe('cb-b');
  });
});
