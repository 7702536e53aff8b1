import type { Clock } from './clock';
import type { SidekickLogger } from './logger';
import type { MetadataReader } from './metadata-reader';

/** The kinds of component, as the first segment of Dapr's `spec.type` (`state.redis` is kind `state`). */
export type ComponentKind = 'state' | 'secretstores' | 'pubsub' | 'bindings' | 'configuration' | 'lock' | 'nameresolution';

/** Resolved component metadata: every `spec.metadata[]` entry as a string, secrets already resolved. */
export type ComponentMetadata = Readonly<Record<string, string>>;

/** What a component receives when it is initialised. */
export interface ComponentInit {
  /** `metadata.name` of the component. */
  readonly name: string;
  /** The full type string, e.g. `state.redis`. */
  readonly type: string;
  readonly appId: string;
  /** The raw metadata; kept for compatibility: read it through {@link meta}. */
  readonly metadata: ComponentMetadata;
  /**
   * Typed, validated access to `metadata` (case-insensitive names, Dapr's duration and boolean
   * forms). Components read ONLY through it: the keys it never read are logged as unknown.
   */
  readonly meta: MetadataReader;
  /** All time (TTLs, timeouts) must be read through this clock. */
  readonly clock: Clock;
  readonly logger: SidekickLogger;
  /** Where the file came from, for error messages (`components/redis.yaml`), or `(inline)` / `(default)`. */
  readonly source: string;
}

/** The lifecycle every component implements. */
export interface Component {
  init(init: ComponentInit): Promise<void>;
  /** Release connections, timers and file handles. Must be safe to call twice. */
  close(): Promise<void>;
  /** Optional liveness probe used by `/v1.0/healthz/outbound`. */
  ping?(): Promise<void>;
}

/** Registers a component type (`state.redis`) with a constructor of fresh instances. */
export interface ComponentFactory<T extends Component = Component> {
  readonly type: string;
  readonly kind: ComponentKind;
  /** Versions accepted in `spec.version`; Dapr uses `v1` for almost everything. */
  readonly versions: readonly string[];
  create(): T;
}
