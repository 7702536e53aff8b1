import { Interception } from '../../src/runtime/interception/interception';
import { CircuitBreakerPolicy } from '../../src/runtime/resiliency/circuit-breaker.policy';
import { policyInterceptor } from '../../src/runtime/resiliency/policy.interceptor';
import { RetryPolicy } from '../../src/runtime/resiliency/retry.policy';
import { TimeoutPolicy } from '../../src/runtime/resiliency/timeout.policy';
import { VirtualClock } from '../../src/runtime/time/virtual.clock';
import { SidekickError } from '../../src/errors/sidekick.error';
import type { CallInfo, Interceptor, StateStore } from '../../src/spi';

const call: CallInfo = { kind: 'component', target: 'statestore', type: 'state.redis', operation: 'get' };

function tagging(name: string, log: string[]): Interceptor {
  return {
    name,
    intercept: async (c, next) => {
      log.push(`${name}:in`);
      try {
        return await next();
      } finally {
        log.push(`${name}:out`);
      }
    },
  };
}

describe('Interception', () => {
  it('with no interceptor, takes the plain path: the component itself, the call as is', async () => {
    const none = new Interception([]);
    const store = { get: async () => undefined } as unknown as StateStore;
    expect(none.active()).toBe(false);
    expect(none.wrapComponent(store, 's', 'state.x', 'state')).toBe(store);
    const fn = (): Promise<number> => Promise.resolve(1);
    await expect(none.run(call, fn)).resolves.toBe(1);
  });

  it('runs interceptors first-outermost, and only those of the call kind', async () => {
    const log: string[] = [];
    const onlyApi: Interceptor = { ...tagging('api', log), kinds: ['api'] };
    const i = new Interception([tagging('a', log), onlyApi, tagging('b', log)]);
    expect(i.active('component')).toBe(true);
    await i.run(call, async () => void log.push('call'));
    expect(log).toEqual(['a:in', 'b:in', 'call', 'b:out', 'a:out']);
  });

  it("installs blocks' interceptors outside the configured ones while starting, and refuses once locked", async () => {
    const log: string[] = [];
    const i = new Interception([tagging('user', log)]);
    i.installOuter([tagging('tracing', log), tagging('metrics', log)]);
    await i.run(call, async () => void log.push('call'));
    expect(log).toEqual(['tracing:in', 'metrics:in', 'user:in', 'call', 'user:out', 'metrics:out', 'tracing:out']);
    i.lock();
    expect(() => i.installOuter([tagging('late', log)])).toThrow(/only be installed while the runtime starts/);
    const none = new Interception([]);
    none.installOuter([]);
    expect(none.active()).toBe(false);
  });

  it('wraps a component once: SPI methods go through the chain, fields read through to the instance', async () => {
    const log: string[] = [];
    const raw = {
      features: ['ETAG'],
      calls: 0,
      async get(this: { calls: number }, key: string) {
        this.calls += 1;
        return { data: Buffer.from(key), etag: '1' };
      },
    };
    const wrapped = new Interception([tagging('t', log)]).wrapComponent(raw as unknown as StateStore, 's', 'state.x', 'state');
    expect(wrapped).not.toBe(raw);
    expect(wrapped.features).toEqual(['ETAG']);
    expect((await wrapped.get('k'))?.data.toString()).toBe('k');
    expect(raw.calls).toBe(1); // `this` is the instance, not the wrapper
    expect(log).toEqual(['t:in', 't:out']);
  });

  it('propagates errors through every interceptor', async () => {
    const log: string[] = [];
    const i = new Interception([tagging('a', log)]);
    await expect(i.run(call, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(log).toEqual(['a:in', 'a:out']);
  });
});

describe('resiliency policies', () => {
  it('retry: exponential backoff waited on the clock, stops at maxRetries, not on non-retryable errors', async () => {
    const clock = new VirtualClock();
    const retry = new RetryPolicy(clock, { maxRetries: 2, initialDelayMs: 100, maxDelayMs: 1000 });
    let attempts = 0;
    const failing = retry.execute(async () => {
      attempts += 1;
      throw new Error(`fail ${attempts}`);
    });
    failing.catch(() => undefined);
    await clock.advance(5000);
    await expect(failing).rejects.toThrow('fail 3');
    expect(attempts).toBe(3);

    let terminal = 0;
    await expect(
      retry.execute(async () => {
        terminal += 1;
        throw new SidekickError('ERR_MALFORMED_REQUEST', 'bad');
      }),
    ).rejects.toThrow('bad');
    expect(terminal).toBe(1);
  });

  it('timeout: fails a call slower than its limit with ERR_TIMEOUT', async () => {
    const clock = new VirtualClock();
    const slow = new TimeoutPolicy(clock, 50).execute(() => new Promise<never>(() => undefined), 'get');
    slow.catch(() => undefined);
    await clock.advance(60);
    await expect(slow).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  it('circuit breaker: opens after consecutive failures and fails fast with ERR_CIRCUIT_OPEN', async () => {
    const breaker = new CircuitBreakerPolicy('redis', { consecutiveFailures: 2, halfOpenAfterMs: 60_000 });
    let calls = 0;
    const fail = (): Promise<never> => {
      calls += 1;
      return Promise.reject(new Error('down'));
    };
    await expect(breaker.execute(fail)).rejects.toThrow('down');
    await expect(breaker.execute(fail)).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    await expect(breaker.execute(fail)).rejects.toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
    expect(calls).toBe(2);
  });

  it('policyInterceptor: retries a selected call through the seam, leaves others alone', async () => {
    const clock = new VirtualClock();
    const retry = new RetryPolicy(clock, { maxRetries: 3, initialDelayMs: 10 });
    const i = new Interception([policyInterceptor((c) => (c.target === 'statestore' ? { retry } : undefined))]);
    let attempts = 0;
    const flaky = (): Promise<string> => (++attempts < 3 ? Promise.reject(new Error('flaky')) : Promise.resolve('ok'));
    const result = i.run(call, flaky);
    await clock.advance(1000);
    await expect(result).resolves.toBe('ok');
    expect(attempts).toBe(3);
    attempts = 0;
    await expect(i.run({ ...call, target: 'other' }, flaky)).rejects.toThrow('flaky');
    expect(attempts).toBe(1);
  });
});
