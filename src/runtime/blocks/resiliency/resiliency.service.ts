import type { CircuitBreakerSpec, ResiliencyResource, RetrySpec, TargetPolicySpec } from '../../../config/resiliency.loader';
import type { Clock } from '../../../spi/clock';
import type { CallInfo } from '../../../spi/interceptor';
import type { SidekickLogger } from '../../../spi/logger';
import { CircuitBreakerPolicy } from '../../resiliency/circuit-breaker.policy';
import { RetryPolicy } from '../../resiliency/retry.policy';
import { TimeoutPolicy } from '../../resiliency/timeout.policy';
import type { MetricsService, ResiliencyLabels } from '../metrics/metrics.service';

/** daprd's component type names in resiliency targets, metric labels and default policy names. */
const COMPONENT_TYPES: Readonly<Record<string, { readonly label: string; readonly keyword: string; readonly operations?: readonly string[] }>> = {
  state: { label: 'statestore', keyword: 'Statestore' },
  pubsub: { label: 'pubsub', keyword: 'Pubsub', operations: ['publish', 'bulkPublish'] },
  bindings: { label: 'binding', keyword: 'Binding', operations: ['invoke'] },
  secretstores: { label: 'secretstore', keyword: 'Secretstore' },
  configuration: { label: 'configuration', keyword: 'Configuration', operations: ['get'] },
  lock: { label: 'lock', keyword: 'Lock' },
};

/** What applies to one target in one direction: the policies built once, breakers kept per target. */
export interface TargetPolicies {
  readonly resiliency: string;
  readonly direction: 'outbound' | 'inbound';
  /** daprd's target label: `app_<id>`, `statestore_<name>`, `pubsub_<name>`... */
  readonly target: string;
  readonly kind: 'app' | string;
  readonly retry?: RetryPolicy;
  readonly retrySpec?: RetrySpec;
  readonly circuitBreaker?: CircuitBreakerPolicy;
  readonly timeout?: TimeoutPolicy;
}

/** Something told of each policy activation (the metrics block, the active span). */
export type ActivationListener = (labels: ResiliencyLabels, detail: Readonly<Record<string, string | number>>) => void;

/**
 * The app's Resiliency documents as policies per target: `targets.apps.<id>` for service
 * invocation, `targets.components.<name>.outbound` for calls to a component (state, publish, output
 * bindings, secrets, configuration, lock), `.inbound` for deliveries from it (pub/sub events, input
 * bindings), and Dapr's default policies (`DefaultRetryPolicy`, `DefaultAppTimeoutPolicy`,
 * `DefaultStatestoreComponentOutboundRetryPolicy`...) where a target names none of that kind.
 */
export class ResiliencyService {
  private resources: readonly ResiliencyResource[] = [];
  private readonly cache = new Map<string, TargetPolicies | null>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: SidekickLogger,
    private readonly metrics: MetricsService,
  ) {}

  load(resources: readonly ResiliencyResource[]): void {
    this.resources = resources;
    this.cache.clear();
    for (const r of resources) {
      this.metrics.resiliencyLoaded(r.name);
      this.logger.info(
        { resiliency: r.name, file: r.source, apps: [...r.apps.keys()], components: [...r.components.keys()], policies: r.policyCount },
        'Resiliency loaded',
      );
      if (r.actors.size > 0)
        this.logger.info({ resiliency: r.name, actors: [...r.actors.keys()] }, 'targets.actors is kept for the actors block (not applied yet)');
    }
  }

  get loaded(): readonly ResiliencyResource[] {
    return this.resources;
  }

  /** True when some document is loaded (the block installs its interceptor only then). */
  get active(): boolean {
    return this.resources.length > 0;
  }

  /** The policies of a call, or none (then the call runs as it is). */
  policiesFor(call: CallInfo): TargetPolicies | undefined {
    const key = targetKey(call);
    if (!key) return undefined;
    let found = this.cache.get(key.id);
    if (found === undefined) {
      found = this.build(key) ?? null;
      this.cache.set(key.id, found);
    }
    return found ?? undefined;
  }

  private build(key: TargetKey): TargetPolicies | undefined {
    for (const r of this.resources) {
      const explicit = key.kind === 'app' ? r.apps.get(key.name) : r.components.get(key.name)?.[key.direction];
      const defaults = this.defaultsFor(r, key);
      const spec: TargetPolicySpec = {
        timeoutMs: explicit?.timeoutMs ?? defaults.timeoutMs,
        retry: explicit?.retry ?? defaults.retry,
        circuitBreaker: explicit?.circuitBreaker ?? defaults.circuitBreaker,
      };
      if (spec.timeoutMs === undefined && !spec.retry && !spec.circuitBreaker) continue;
      return this.instantiate(r.name, key, spec);
    }
    return undefined;
  }

  /** Dapr's default policies for a target, most specific name first. */
  private defaultsFor(r: ResiliencyResource, key: TargetKey): TargetPolicySpec {
    if (r.defaults.size === 0) return {};
    const dir = key.direction === 'inbound' ? 'Inbound' : 'Outbound';
    const scopes = key.kind === 'app' ? ['App', ''] : [`${COMPONENT_TYPES[key.kind]?.keyword ?? ''}Component${dir}`, `Component${dir}`, 'Component', ''];
    const first = <T>(
      kind: string,
      pick: (d: { timeoutMs?: number; retry?: RetrySpec; circuitBreaker?: CircuitBreakerSpec }) => T | undefined,
    ): T | undefined => {
      for (const scope of scopes) {
        const found = r.defaults.get(`Default${scope}${kind}Policy`);
        const value = found ? pick(found) : undefined;
        if (value !== undefined) return value;
      }
      return undefined;
    };
    return {
      timeoutMs: first('Timeout', (d) => d.timeoutMs),
      retry: first('Retry', (d) => d.retry),
      circuitBreaker: first('CircuitBreaker', (d) => d.circuitBreaker),
    };
  }

  private instantiate(resiliency: string, key: TargetKey, spec: TargetPolicySpec): TargetPolicies {
    const target = key.kind === 'app' ? `app_${key.name}` : `${COMPONENT_TYPES[key.kind]?.label ?? key.kind}_${key.name}`;
    const labels = (policy: ResiliencyLabels['policy'], status?: string): ResiliencyLabels => ({
      name: resiliency,
      policy,
      direction: key.direction,
      target,
      status,
    });
    const retry = spec.retry
      ? new RetryPolicy(this.clock, {
          maxRetries: spec.retry.maxRetries,
          backoff: spec.retry.policy,
          initialDelayMs: spec.retry.policy === 'constant' ? spec.retry.durationMs : 500,
          maxDelayMs: spec.retry.maxIntervalMs,
          exponent: 1.5,
          jitter: 'half',
        })
      : undefined;
    const breakerSpec = spec.circuitBreaker;
    const breakerName = breakerSpec ? `${breakerSpec.name}-${key.name}` : '';
    const circuitBreaker = breakerSpec
      ? new CircuitBreakerPolicy(breakerName, {
          trip: breakerSpec.trip,
          intervalMs: breakerSpec.intervalMs,
          halfOpenAfterMs: breakerSpec.timeoutMs,
          onStateChange: (state) => {
            this.logger.info({ breaker: breakerName, state }, `circuit breaker "${breakerName}" changed state to ${state}`);
            this.emit(labels('circuitbreaker', state), { breaker: breakerName, state });
          },
        })
      : undefined;
    return {
      resiliency,
      direction: key.direction,
      target,
      kind: key.kind,
      retry,
      retrySpec: spec.retry,
      circuitBreaker,
      timeout: spec.timeoutMs === undefined ? undefined : new TimeoutPolicy(this.clock, spec.timeoutMs),
    };
  }

  private readonly listeners: ActivationListener[] = [];

  /** Adds a listener of activations (span events). */
  onActivation(listener: ActivationListener): void {
    this.listeners.push(listener);
  }

  /** A policy acted: counted in `dapr_resiliency_activations_total` and told to the listeners. */
  emit(labels: ResiliencyLabels, detail: Readonly<Record<string, string | number>>): void {
    this.metrics.resiliencyActivated(labels);
    for (const listener of this.listeners) listener(labels, detail);
  }

  /** A policy applied to a call (`dapr_resiliency_count`). */
  executed(policies: TargetPolicies): void {
    const base = { name: policies.resiliency, direction: policies.direction, target: policies.target };
    if (policies.retry) this.metrics.resiliencyExecuted({ ...base, policy: 'retry' });
    if (policies.timeout) this.metrics.resiliencyExecuted({ ...base, policy: 'timeout' });
    if (policies.circuitBreaker) this.metrics.resiliencyExecuted({ ...base, policy: 'circuitbreaker', status: policies.circuitBreaker.state });
  }
}

interface TargetKey {
  readonly id: string;
  readonly kind: 'app' | string;
  readonly name: string;
  readonly direction: 'outbound' | 'inbound';
}

/** Which target a call belongs to, or none (calls no policy can apply to: API requests, subscribe, read...). */
function targetKey(call: CallInfo): TargetKey | undefined {
  if (call.kind === 'invoke') return { id: `app\u0000${call.target}`, kind: 'app', name: call.target, direction: 'outbound' };
  if (call.kind === 'delivery') {
    const kind = call.type === 'pubsub' ? 'pubsub' : call.type === 'bindings' ? 'bindings' : undefined;
    return kind ? { id: `in\u0000${kind}\u0000${call.target}`, kind, name: call.target, direction: 'inbound' } : undefined;
  }
  if (call.kind !== 'component') return undefined;
  const kind = call.type.split('.')[0] ?? '';
  const type = COMPONENT_TYPES[kind];
  if (!type || (type.operations && !type.operations.includes(call.operation))) return undefined;
  return { id: `out\u0000${kind}\u0000${call.target}`, kind, name: call.target, direction: 'outbound' };
}
