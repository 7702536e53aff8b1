import { parseResiliency } from '../../src/config/resiliency.loader';
import { compileTrip } from '../../src/config/trip-expression';

const counts = { requests: 10, totalSuccesses: 4, totalFailures: 6, consecutiveSuccesses: 0, consecutiveFailures: 6 };

function doc(spec: unknown, extra: Record<string, unknown> = {}): unknown {
  return { apiVersion: 'dapr.io/v1alpha1', kind: 'Resiliency', metadata: { name: 'r' }, spec, ...extra };
}

describe('Resiliency loader', () => {
  const warnings: { field?: unknown; msg: string }[] = [];
  const log = { warn: (fields: Record<string, unknown>, msg: string) => void warnings.push({ field: fields['field'], msg }) };

  it('reads policies with Dapr defaults and resolves targets', () => {
    const r = parseResiliency(
      doc({
        policies: {
          timeouts: { general: '5s' },
          retries: {
            forever: { policy: 'constant', maxRetries: -1 },
            exp: { policy: 'exponential', maxInterval: '15s', maxRetries: 3, matching: { httpStatusCodes: '429,500-599' } },
          },
          circuitBreakers: { cb: { trip: 'consecutiveFailures >= 5', timeout: '30s' } },
        },
        targets: {
          apps: { a: { timeout: 'general', retry: 'exp' } },
          components: { s: { outbound: { retry: 'forever', circuitBreaker: 'cb', timeout: '250ms' } } },
          actors: { x: { timeout: 'general' } },
        },
      }),
      'r.yaml',
      log,
    );
    const app = r.apps.get('a');
    expect(app?.timeoutMs).toBe(5000);
    expect(app?.retry).toMatchObject({ policy: 'exponential', maxIntervalMs: 15_000, maxRetries: 3 });
    expect(app?.retry?.httpStatusCodes?.(429)).toBe(true);
    expect(app?.retry?.httpStatusCodes?.(404)).toBe(false);
    expect(app?.retry?.httpStatusCodes?.(503)).toBe(true);
    const out = r.components.get('s')?.outbound;
    expect(out?.retry).toMatchObject({ durationMs: 5000, maxRetries: Infinity });
    expect(out?.timeoutMs).toBe(250);
    expect(out?.circuitBreaker).toMatchObject({ maxRequests: 1, timeoutMs: 30_000, intervalMs: 0 });
    expect(r.actors.has('x')).toBe(true);
  });

  it('fails naming the file and field for bad values and unknown policy names', () => {
    expect(() => parseResiliency(doc({ policies: { timeouts: { t: 'soon' } } }), 'bad.yaml', log)).toThrow(
      /bad\.yaml.*spec\.policies\.timeouts\.t|spec\.policies\.timeouts\.t.*bad\.yaml/s,
    );
    expect(() => parseResiliency(doc({ targets: { apps: { a: { retry: 'nope' } } } }), 'bad.yaml', log)).toThrow(
      /bad\.yaml: spec\.targets\.apps\.a\.retry: .*no retry policy named "nope"/,
    );
    expect(() => parseResiliency(doc({ policies: { circuitBreakers: { cb: { trip: 'consecutiveFailurez > 5' } } } }), 'bad.yaml', log)).toThrow(
      /spec\.policies\.circuitBreakers\.cb\.trip: .*unknown variable consecutiveFailurez/,
    );
    expect(() => parseResiliency(doc({ policies: { retries: { r: { policy: 'linear' } } } }), 'bad.yaml', log)).toThrow(
      /policy must be constant or exponential/,
    );
    expect(() => parseResiliency(doc({ policies: { retries: { r: { matching: { httpStatusCodes: '500-700' } } } } }), 'bad.yaml', log)).toThrow(
      /matching\.httpStatusCodes: .*"500-700" is outside 100-599/,
    );
  });

  it('warns about unknown fields with the closest name', () => {
    warnings.length = 0;
    parseResiliency(doc({ policies: { retries: { r: { maxRetry: 3 } } } }), 'w.yaml', log);
    expect(warnings).toEqual([expect.objectContaining({ field: 'spec.policies.retries.r.maxRetry', msg: expect.stringMatching(/not a Resiliency field/) })]);
  });

  it("collects Dapr's default policies by name", () => {
    const r = parseResiliency(
      doc({ policies: { retries: { DefaultRetryPolicy: { maxRetries: 2 } }, timeouts: { DefaultAppTimeoutPolicy: '1s' } } }),
      'd.yaml',
      log,
    );
    expect(r.defaults.get('DefaultRetryPolicy')?.retry?.maxRetries).toBe(2);
    expect(r.defaults.get('DefaultAppTimeoutPolicy')?.timeoutMs).toBe(1000);
  });
});

describe('trip expressions', () => {
  it.each([
    ['consecutiveFailures > 5', true],
    ['consecutiveFailures >= 7', false],
    ['totalFailures > 5 && requests > 20', false],
    ['totalFailures > 5 || requests > 20', true],
    ['(totalSuccesses == 4 || requests < 3) && consecutiveSuccesses != 1', true],
  ])('%s', (source, expected) => {
    expect(compileTrip(source)(counts)).toBe(expected);
  });

  it('rejects what it cannot read', () => {
    expect(() => compileTrip('consecutiveFailures >')).toThrow(/ends too early/);
    expect(() => compileTrip('consecutiveFailures ~ 3')).toThrow(/unknown operator/);
    expect(() => compileTrip('')).toThrow(/empty/);
  });
});
