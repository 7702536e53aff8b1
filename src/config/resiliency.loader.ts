import { z } from 'zod';
import { ConfigError } from '../errors/config.errors';
import { formatIssues } from '../errors/zod-issues';
import { compileTrip, type TripExpression } from './trip-expression';
import { closestName } from '../spi/metadata-reader';
import type { OtherDocument } from './component.loader';
import { parseDuration } from './duration';

const duration = z.union([z.string(), z.number()]).transform(String);
const policyRefs = z.object({ timeout: duration.optional(), retry: z.string().optional(), circuitBreaker: z.string().optional() });

const resiliencySchema = z.object({
  apiVersion: z.literal('dapr.io/v1alpha1', { error: 'apiVersion must be dapr.io/v1alpha1' }),
  kind: z.literal('Resiliency'),
  metadata: z.object({ name: z.string().min(1, 'metadata.name is required'), namespace: z.string().optional() }),
  scopes: z.array(z.string()).optional(),
  spec: z.object({
    policies: z
      .object({
        timeouts: z.record(z.string(), duration).optional(),
        retries: z
          .record(
            z.string(),
            z.object({
              policy: z.enum(['constant', 'exponential'], { error: 'policy must be constant or exponential' }).optional(),
              duration: duration.optional(),
              maxInterval: duration.optional(),
              maxRetries: z.number().int().min(-1, 'maxRetries must be -1 (forever) or more').optional(),
              matching: z.object({ httpStatusCodes: z.string().optional(), gRPCStatusCodes: z.string().optional() }).optional(),
            }),
          )
          .optional(),
        circuitBreakers: z
          .record(
            z.string(),
            z.object({
              maxRequests: z.number().int().min(0).optional(),
              interval: duration.optional(),
              timeout: duration.optional(),
              trip: z.string().optional(),
            }),
          )
          .optional(),
      })
      .optional(),
    targets: z
      .object({
        apps: z.record(z.string(), policyRefs).optional(),
        components: z.record(z.string(), z.object({ outbound: policyRefs.optional(), inbound: policyRefs.optional() })).optional(),
        actors: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
      })
      .optional(),
  }),
});

/** Fields of Dapr's Resiliency schema, by path (unknown ones are warned about). */
const KNOWN_FIELDS: Readonly<Record<string, readonly string[]>> = {
  '': ['apiVersion', 'kind', 'metadata', 'scopes', 'spec'],
  spec: ['policies', 'targets'],
  'spec.policies': ['timeouts', 'retries', 'circuitBreakers'],
  retry: ['policy', 'duration', 'maxInterval', 'maxRetries', 'matching'],
  'retry.matching': ['httpStatusCodes', 'gRPCStatusCodes'],
  circuitBreaker: ['maxRequests', 'interval', 'timeout', 'trip'],
  'spec.targets': ['apps', 'components', 'actors'],
  target: ['timeout', 'retry', 'circuitBreaker'],
  component: ['outbound', 'inbound'],
};

/** A set of status codes from Dapr's `"429,500-599"` form. */
export type StatusCodes = (code: number) => boolean;

export interface RetrySpec {
  readonly name: string;
  readonly policy: 'constant' | 'exponential';
  /** Between attempts of a constant policy (Dapr's `duration`, default 5 s). */
  readonly durationMs: number;
  /** Longest wait of an exponential policy (Dapr's `maxInterval`, default 60 s). */
  readonly maxIntervalMs: number;
  /** `Infinity` for Dapr's `-1` (its default). */
  readonly maxRetries: number;
  readonly httpStatusCodes?: StatusCodes;
  readonly grpcStatusCodes?: StatusCodes;
}

export interface CircuitBreakerSpec {
  readonly name: string;
  readonly maxRequests: number;
  readonly intervalMs: number;
  /** Open period before a trial call (Dapr's `timeout`, default 60 s). */
  readonly timeoutMs: number;
  readonly trip: TripExpression;
}

/** What one target applies: each policy resolved from its name (or an inline timeout duration). */
export interface TargetPolicySpec {
  readonly timeoutMs?: number;
  readonly retry?: RetrySpec;
  readonly circuitBreaker?: CircuitBreakerSpec;
}

/** One `kind: Resiliency` document, validated and resolved. */
export interface ResiliencyResource {
  readonly name: string;
  readonly source: string;
  readonly apps: ReadonlyMap<string, TargetPolicySpec>;
  readonly components: ReadonlyMap<string, { readonly outbound?: TargetPolicySpec; readonly inbound?: TargetPolicySpec }>;
  /** `targets.actors`, kept for the actors block (not applied yet). */
  readonly actors: ReadonlyMap<string, Readonly<Record<string, unknown>>>;
  /** Dapr's default policies (`DefaultRetryPolicy`, `DefaultAppTimeoutPolicy`...), by name. */
  readonly defaults: ReadonlyMap<string, { readonly timeoutMs?: number; readonly retry?: RetrySpec; readonly circuitBreaker?: CircuitBreakerSpec }>;
  readonly policyCount: number;
}

export interface ResiliencyWarnings {
  warn(fields: Record<string, unknown>, msg: string): void;
}

/**
 * The `kind: Resiliency` documents of the resources path that apply to `appId` (no `scopes`, or
 * `scopes` naming it). Bad values fail start-up naming the file and field; unknown fields warn.
 */
export function loadResiliency(docs: readonly OtherDocument[], appId: string, log: ResiliencyWarnings): ResiliencyResource[] {
  return docs
    .filter((d) => d.kind === 'Resiliency')
    .map((doc) => parseResiliency(doc.body, doc.source, log))
    .filter((r): r is ResiliencyResource & { scopes?: readonly string[] } => r !== undefined)
    .filter((r) => !r.scopes || r.scopes.length === 0 || r.scopes.includes(appId));
}

/** Validates and resolves one Resiliency document. */
export function parseResiliency(body: unknown, source: string, log: ResiliencyWarnings): ResiliencyResource & { readonly scopes?: readonly string[] } {
  const parsed = resiliencySchema.safeParse(body);
  const docName = (body as { metadata?: { name?: unknown } } | undefined)?.metadata?.name;
  const where = `resiliency${typeof docName === 'string' ? ` "${docName}"` : ''}`;
  if (!parsed.success) throw new ConfigError(`${where}: ${formatIssues(parsed.error.issues)}`, { file: source });
  warnUnknown(body, source, log);
  const { metadata, spec, scopes } = parsed.data;
  const fail = (field: string, message: string): never => {
    throw new ConfigError(`${where}: ${message}`, { file: source, field });
  };
  const ms = (value: string, field: string): number => {
    const out = parseDuration(value, { file: source, field });
    return out < 0 ? fail(field, `"${value}" is negative`) : out;
  };

  const timeouts = new Map<string, number>();
  for (const [name, value] of Object.entries(spec.policies?.timeouts ?? {})) timeouts.set(name, ms(value, `spec.policies.timeouts.${name}`));
  const retries = new Map<string, RetrySpec>();
  for (const [name, r] of Object.entries(spec.policies?.retries ?? {})) {
    const field = `spec.policies.retries.${name}`;
    retries.set(name, {
      name,
      policy: r.policy ?? 'constant',
      durationMs: r.duration === undefined ? 5000 : ms(r.duration, `${field}.duration`),
      maxIntervalMs: r.maxInterval === undefined ? 60_000 : ms(r.maxInterval, `${field}.maxInterval`),
      maxRetries: r.maxRetries === undefined || r.maxRetries === -1 ? Infinity : r.maxRetries,
      httpStatusCodes: codes(r.matching?.httpStatusCodes, 100, 599, `${field}.matching.httpStatusCodes`, fail),
      grpcStatusCodes: codes(r.matching?.gRPCStatusCodes, 0, 16, `${field}.matching.gRPCStatusCodes`, fail),
    });
  }
  const breakers = new Map<string, CircuitBreakerSpec>();
  for (const [name, b] of Object.entries(spec.policies?.circuitBreakers ?? {})) {
    const field = `spec.policies.circuitBreakers.${name}`;
    let trip: TripExpression;
    try {
      trip = compileTrip(b.trip ?? 'consecutiveFailures > 5');
    } catch (err) {
      return fail(`${field}.trip`, (err as Error).message);
    }
    breakers.set(name, {
      name,
      maxRequests: b.maxRequests ?? 1,
      intervalMs: b.interval === undefined ? 0 : ms(b.interval, `${field}.interval`),
      timeoutMs: b.timeout === undefined ? 60_000 : ms(b.timeout, `${field}.timeout`),
      trip,
    });
  }

  const resolve = (refs: z.output<typeof policyRefs> | undefined, field: string): TargetPolicySpec | undefined => {
    if (!refs) return undefined;
    const pick = <T>(map: ReadonlyMap<string, T>, name: string | undefined, kind: string, sub: string): T | undefined => {
      if (name === undefined) return undefined;
      const found = map.get(name);
      if (found === undefined) fail(`${field}.${sub}`, `no ${kind} policy named "${name}"; defined: ${[...map.keys()].join(', ') || 'none'}`);
      return found;
    };
    const timeoutMs = refs.timeout === undefined ? undefined : (timeouts.get(refs.timeout) ?? ms(refs.timeout, `${field}.timeout`));
    return {
      timeoutMs,
      retry: pick(retries, refs.retry, 'retry', 'retry'),
      circuitBreaker: pick(breakers, refs.circuitBreaker, 'circuit breaker', 'circuitBreaker'),
    };
  };
  const apps = new Map<string, TargetPolicySpec>();
  for (const [id, refs] of Object.entries(spec.targets?.apps ?? {})) apps.set(id, resolve(refs, `spec.targets.apps.${id}`) ?? {});
  const components = new Map<string, { outbound?: TargetPolicySpec; inbound?: TargetPolicySpec }>();
  for (const [name, c] of Object.entries(spec.targets?.components ?? {})) {
    components.set(name, {
      outbound: resolve(c.outbound, `spec.targets.components.${name}.outbound`),
      inbound: resolve(c.inbound, `spec.targets.components.${name}.inbound`),
    });
  }
  const defaults = new Map<string, { timeoutMs?: number; retry?: RetrySpec; circuitBreaker?: CircuitBreakerSpec }>();
  for (const [name, value] of timeouts) if (/^Default\w*TimeoutPolicy$/.test(name)) defaults.set(name, { timeoutMs: value });
  for (const [name, value] of retries) if (/^Default\w*RetryPolicy$/.test(name)) defaults.set(name, { retry: value });
  for (const [name, value] of breakers) if (/^Default\w*CircuitBreakerPolicy$/.test(name)) defaults.set(name, { circuitBreaker: value });
  return {
    name: metadata.name,
    source,
    scopes,
    apps,
    components,
    actors: new Map(Object.entries(spec.targets?.actors ?? {})),
    defaults,
    policyCount: timeouts.size + retries.size + breakers.size,
  };
}

/** `"429,500-599"` → a membership test; empty or unset: undefined (every code). */
function codes(text: string | undefined, min: number, max: number, field: string, fail: (field: string, message: string) => never): StatusCodes | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const ranges: [number, number][] = [];
  for (const part of text.split(',')) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!match) return fail(field, `"${part.trim()}" is not a code or a range such as 500-599`);
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (from < min || to > max || from > to) return fail(field, `"${part.trim()}" is outside ${min}-${max}`);
    ranges.push([from, to]);
  }
  return (code) => ranges.some(([from, to]) => code >= from && code <= to);
}

function warnUnknown(body: unknown, source: string, log: ResiliencyWarnings): void {
  const check = (value: unknown, known: readonly string[] | undefined, path: string): void => {
    if (!known || typeof value !== 'object' || value === null || Array.isArray(value)) return;
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const suggestion = closestName(key, known);
      const field = path ? `${path}.${key}` : key;
      log.warn({ file: source, field }, `${field} is not a Resiliency field (ignored)${suggestion ? `; did you mean ${suggestion}?` : ''}`);
    }
  };
  const get = (value: unknown, key: string): unknown => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined);
  const each = (value: unknown, fn: (key: string, child: unknown) => void): void => {
    if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) fn(k, v);
  };
  check(body, KNOWN_FIELDS[''], '');
  const spec = get(body, 'spec');
  check(spec, KNOWN_FIELDS['spec'], 'spec');
  const policies = get(spec, 'policies');
  check(policies, KNOWN_FIELDS['spec.policies'], 'spec.policies');
  each(get(policies, 'retries'), (name, r) => {
    check(r, KNOWN_FIELDS['retry'], `spec.policies.retries.${name}`);
    check(get(r, 'matching'), KNOWN_FIELDS['retry.matching'], `spec.policies.retries.${name}.matching`);
  });
  each(get(policies, 'circuitBreakers'), (name, b) => check(b, KNOWN_FIELDS['circuitBreaker'], `spec.policies.circuitBreakers.${name}`));
  const targets = get(spec, 'targets');
  check(targets, KNOWN_FIELDS['spec.targets'], 'spec.targets');
  each(get(targets, 'apps'), (id, t) => check(t, KNOWN_FIELDS['target'], `spec.targets.apps.${id}`));
  each(get(targets, 'components'), (name, c) => {
    check(c, KNOWN_FIELDS['component'], `spec.targets.components.${name}`);
    check(get(c, 'outbound'), KNOWN_FIELDS['target'], `spec.targets.components.${name}.outbound`);
    check(get(c, 'inbound'), KNOWN_FIELDS['target'], `spec.targets.components.${name}.inbound`);
  });
}
