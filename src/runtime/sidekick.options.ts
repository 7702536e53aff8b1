import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InlineComponent } from '../config/component.loader';
import type { ConfigurationSpecInput } from '../config/configuration.schema';
import { ConfigError } from '../errors/config.errors';
import type { Clock } from '../spi/clock';
import type { ComponentFactory } from '../spi/component';
import type { SidekickLogger } from '../spi/logger';
import type { Interceptor } from '../spi/interceptor';
import type { NameResolver } from '../spi/name-resolver';
import { APP_ID_RULE, isValidAppId } from './blocks/invoke/app-id';
import type { RetryPolicyOptions } from './resiliency/retry.policy';

export interface HttpApiOptions {
  /** Serve Dapr's HTTP API (default true). */
  readonly enabled?: boolean;
  /**
   * Default `SIDEKICK_HTTP_HOST` or 127.0.0.1 (loopback only, unlike daprd's every interface). Several
   * addresses separated by commas (daprd's `--dapr-listen-addresses`): the API is served on each.
   */
  readonly host?: string;
  /** Default `SIDEKICK_HTTP_PORT` or 3500; `0` picks a free port (see `SidekickRuntime.httpApiAddress`). */
  readonly port?: number;
  /**
   * Serve the API on this Unix domain socket file only, not on TCP (daprd's `--unix-domain-socket`;
   * default `SIDEKICK_HTTP_SOCKET`). `httpApiAddress` is then undefined.
   */
  readonly socketPath?: string;
  /** When set, every request but the health checks needs header `dapr-api-token` (default env `DAPR_API_TOKEN`). */
  readonly apiToken?: string;
  /**
   * Largest request body accepted, in bytes (default `SIDEKICK_HTTP_MAX_BODY_BYTES` or 4 MiB, as daprd);
   * larger bodies get 413. 0 or a negative number: no limit (daprd's `--max-body-size -1`).
   */
  readonly maxBodyBytes?: number;
  /**
   * Largest request head (request line and headers) accepted, in bytes: Node's `maxHeaderSize`, daprd's
   * `--read-buffer-size` (default `SIDEKICK_HTTP_MAX_HEADER_BYTES` or Node's 16 KiB); more gets 431.
   */
  readonly maxHeaderBytes?: number;
  /** Most keys one bulk get may ask for (default 10 000); more get 400. */
  readonly maxBulkKeys?: number;
  /** Time to receive a whole request (default 30 000 ms; Node's `requestTimeout`); `0` disables. */
  readonly requestTimeoutMs?: number;
  /** Time to receive the request headers (default 10 000 ms; Node's `headersTimeout`). */
  readonly headersTimeoutMs?: number;
}

export interface MetricsOptions {
  /**
   * Collect Prometheus metrics and serve them (default true, as daprd; `$SIDEKICK_METRICS_ENABLED=false` (or `0`, `off`)
   * or the Configuration's `spec.metric.enabled: false` turn them off too).
   */
  readonly enabled?: boolean;
  /** Default `$SIDEKICK_METRICS_HOST` or 127.0.0.1. */
  readonly host?: string;
  /** Default `$SIDEKICK_METRICS_PORT` or 9090 (daprd's); `0` picks a free port. A busy port is logged, not fatal. */
  readonly port?: number;
}

export interface NameResolutionOptions {
  /** App id to the base URL of that app's HTTP server, e.g. `{ orders: 'http://127.0.0.1:3001' }`. */
  readonly static?: Readonly<Record<string, string>>;
  /** The machine-local registry that running apps join (default on; `false` disables, a string sets its folder). */
  readonly localRegistry?: boolean | string;
  /** Further resolvers, asked after the static map and before the local registry. */
  readonly resolvers?: readonly NameResolver[];
}

/**
 * Sidecar mode: the app is another process (any language) reached over HTTP, as daprd reaches its
 * app. Invocations of this app id, declarative and `GET /dapr/subscribe` subscriptions and input
 * bindings are delivered to it over HTTP (`sidekick run` sets this for apps that are not Sidekick apps).
 */
export interface AppChannelOptions {
  /** The app's base URL, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  /** A path that answers 2xx once the app is ready (Dapr's `--app-health-check-path`); else an open port is enough. */
  readonly healthCheckPath?: string;
  /** Pause between two readiness probes in ms (default 100). */
  readonly probeIntervalMs?: number;
  /** Sent to the app as header `dapr-api-token` on every call, as daprd does (default env `APP_API_TOKEN`). */
  readonly apiToken?: string;
  /**
   * daprd's periodic app health checks (`--enable-app-health-check`; off by default): once the app is
   * ready, `healthCheckPath` (default `/healthz`) is probed every `intervalMs`; after `threshold`
   * failures in a row, pub/sub deliveries and input bindings pause (and invocations answer 500) until
   * a probe succeeds again.
   */
  readonly healthCheck?: { readonly intervalMs?: number; readonly timeoutMs?: number; readonly threshold?: number };
  /**
   * daprd's `--app-max-concurrency`: at most this many requests to the app at a time (invocations, events,
   * input bindings, actor calls, `/dapr/*` reads); the rest wait their turn in arrival order (none fail).
   * Unset: no limit. Health probes are not counted.
   */
  readonly maxConcurrency?: number;
}

export interface SidekickModuleOptions {
  /** This app's id: the key prefix in state stores and the name other apps invoke it by (`SIDEKICK_APP_ID` overrides it, as `sidekick run --app-id` sets it). */
  readonly appId: string;
  /** Folder of component YAML files (default `./components`; a missing default folder is fine). */
  readonly resourcesPath?: string;
  /** Components given in code, same shape as the YAML without apiVersion/kind. */
  readonly components?: readonly InlineComponent[];
  /**
   * The app's `kind: Configuration` (tracing, metrics, features, secret scopes...): a YAML file's
   * path, or its spec given in code. Default `SIDEKICK_CONFIG`, else the one Configuration
   * document in the resources path, else none.
   */
  readonly config?: string | ConfigurationSpecInput;
  /** Extra component types (your own backends). */
  readonly componentTypes?: readonly ComponentFactory[];
  readonly httpApi?: HttpApiOptions;
  /** The Prometheus endpoint (`GET /metrics`, default 127.0.0.1:9090) and whether metrics are collected. */
  readonly metrics?: MetricsOptions;
  readonly nameResolution?: NameResolutionOptions;
  /** Service invocation timeout in ms (default 60 000). */
  readonly invokeTimeoutMs?: number;
  /** Delivery of pub/sub events: the default retry policy before dead-lettering (3 retries, 200 ms to 5 s backoff). */
  readonly pubsub?: { readonly retry?: RetryPolicyOptions };
  /** Where embedded data lives (default `.sidekick`). */
  readonly dataDir?: string;
  /** How long shutdown waits for in-flight work, in ms (default 10 000). */
  readonly drainTimeoutMs?: number;
  /** The actor runtime (README, "Actors"). */
  readonly actors?: ActorRuntimeOptions;
  /** Workflow leases between processes (README, "Workflows: scaling out"). */
  readonly workflows?: WorkflowRuntimeOptions;
  /**
   * Interceptors around component calls, handler deliveries, HTTP API requests and outgoing
   * invocations (tracing, metrics, resiliency); the first is outermost. None by default.
   */
  readonly interceptors?: readonly Interceptor[];
  readonly clock?: Clock;
  readonly logger?: SidekickLogger;
  /** Sidecar mode: deliver to an app in another process over HTTP (default: none, the app is this Nest app). */
  readonly appChannel?: AppChannelOptions;
}

/** The workflow runtime's settings (README, "Workflows: scaling out"). */
export interface WorkflowRuntimeOptions {
  /**
   * How long a process's claim on its workflow instances lasts without renewal, in ms of real time
   * (default 10 000; `SIDEKICK_WORKFLOW_LEASE_MS`): a process that crashed is replaced within about
   * this long. Renewed every third of it.
   */
  readonly leaseMs?: number;
  /** How often a process reads its inbox of events sent by other processes, in ms (default 100). */
  readonly pollMs?: number;
  /**
   * Where activities run (README, "Workflows: scaling out"): `'local'` (default) in the process driving
   * the instance; `'shared'` round-robin over the live processes of the app (with one alive: here).
   * Every process of an app must use the same setting.
   */
  readonly activities?: 'local' | 'shared';
}

/** The actor runtime's settings. */
export interface ActorRuntimeOptions {
  /** How often idle actors are looked for, in ms of the Clock (default 30 000, Dapr's actorScanInterval). */
  readonly scanIntervalMs?: number;
  /** How long a call waits for an actor's turn before failing, in ms (default 60 000). */
  readonly turnTimeoutMs?: number;
  /** How often reminder progress is saved, in ms (default 1000): a crash may repeat the firings of the last interval. */
  readonly reminderFlushMs?: number;
  /**
   * Several instances of this app id share the actors of each type (README, "Actor placement"): a
   * membership table with leases in the actor state store (Redis or PostgreSQL). Off by default.
   */
  readonly placement?: { readonly enabled?: boolean; readonly leaseMs?: number };
}

/** Options with every default applied. */
export interface ResolvedOptions {
  readonly appId: string;
  readonly resourcesPath: string;
  readonly resourcesPathRequired: boolean;
  readonly components: readonly InlineComponent[];
  /** `config` or `SIDEKICK_CONFIG`; undefined: look in the resources path. */
  readonly config?: string | ConfigurationSpecInput;
  readonly componentTypes: readonly ComponentFactory[];
  readonly httpApi: Required<Omit<HttpApiOptions, 'apiToken' | 'maxHeaderBytes' | 'socketPath'>> & {
    readonly apiToken?: string;
    readonly maxHeaderBytes?: number;
    readonly socketPath?: string;
  };
  readonly metrics: Required<MetricsOptions>;
  readonly nameResolution: { static: Readonly<Record<string, string>>; localRegistry: string | false; resolvers: readonly NameResolver[] };
  readonly invokeTimeoutMs: number;
  readonly pubsubRetry: RetryPolicyOptions;
  readonly dataDir: string;
  readonly drainTimeoutMs: number;
  readonly actors: { scanIntervalMs: number; turnTimeoutMs: number; reminderFlushMs: number; placement: { enabled: boolean; leaseMs: number } };
  readonly workflows: { leaseMs: number; pollMs: number; activities: 'local' | 'shared' };
  readonly interceptors: readonly Interceptor[];
  /** `NAMESPACE` (Dapr's), for `keyPrefix: namespace`. */
  readonly namespace?: string;
  /** Level of the default logger (`SIDEKICK_LOG_LEVEL`, default `info`). */
  readonly logLevel: string;
  /** Line format of the default logger (`SIDEKICK_LOG_FORMAT`; `json` by default under `NODE_ENV=production`, else `pretty`). */
  readonly logFormat: LogFormat;
  /** Whether the pretty format may colour its lines on a terminal (`NO_COLOR` unset or empty). */
  readonly logColor: boolean;
  /** Sidecar mode (see {@link AppChannelOptions}); undefined for a Sidekick app. */
  readonly appChannel?: Required<Omit<AppChannelOptions, 'healthCheckPath' | 'apiToken' | 'healthCheck' | 'maxConcurrency'>> & {
    readonly healthCheckPath?: string;
    /** At most this many requests to the app at a time; undefined: no limit. */
    readonly maxConcurrency?: number;
    readonly apiToken?: string;
    /** Periodic health checks, with every default applied (the path is `healthCheckPath`); undefined: off. */
    readonly healthCheck?: { readonly intervalMs: number; readonly timeoutMs: number; readonly threshold: number };
  };
}

/** `pretty`: one Nest-like line per record, for a terminal; `json`: pino's JSON lines, for log collectors. */
export type LogFormat = 'pretty' | 'json';

export interface LogSettings {
  readonly level: string;
  readonly format: LogFormat;
  readonly color: boolean;
}

export const SIDEKICK_OPTIONS = Symbol('SIDEKICK_OPTIONS');
export const SIDEKICK_CLOCK = Symbol('SIDEKICK_CLOCK');
export const SIDEKICK_LOGGER = Symbol('SIDEKICK_LOGGER');

export function resolveOptions(options: SidekickModuleOptions, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const appId = env['SIDEKICK_APP_ID'] || options.appId;
  if (!appId || !isValidAppId(appId)) {
    throw new ConfigError(`appId "${appId ?? ''}" is invalid: use ${APP_ID_RULE}`, {
      field: env['SIDEKICK_APP_ID'] ? 'SIDEKICK_APP_ID' : 'SidekickModule.forRoot({ appId })',
    });
  }
  const port = options.httpApi?.port ?? (env['SIDEKICK_HTTP_PORT'] ? Number(env['SIDEKICK_HTTP_PORT']) : 3500);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`HTTP API port "${String(port)}" is not a port number (0-65535)`, { field: 'httpApi.port / SIDEKICK_HTTP_PORT' });
  }
  const metricsPort = options.metrics?.port ?? (env['SIDEKICK_METRICS_PORT'] ? Number(env['SIDEKICK_METRICS_PORT']) : 9090);
  if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535) {
    throw new ConfigError(`metrics port "${String(metricsPort)}" is not a port number (0-65535)`, { field: 'metrics.port / SIDEKICK_METRICS_PORT' });
  }
  const registry = options.nameResolution?.localRegistry ?? true;
  const log = resolveLogSettings(env);
  return {
    appId,
    resourcesPath: options.resourcesPath ?? env['SIDEKICK_RESOURCES_PATH'] ?? './components',
    resourcesPathRequired: options.resourcesPath !== undefined || env['SIDEKICK_RESOURCES_PATH'] !== undefined,
    components: options.components ?? [],
    config: options.config ?? (env['SIDEKICK_CONFIG'] || undefined),
    componentTypes: options.componentTypes ?? [],
    httpApi: {
      enabled: options.httpApi?.enabled ?? true,
      host: options.httpApi?.host ?? (env['SIDEKICK_HTTP_HOST'] || '127.0.0.1'),
      port,
      socketPath: options.httpApi?.socketPath ?? (env['SIDEKICK_HTTP_SOCKET'] || undefined),
      apiToken: options.httpApi?.apiToken ?? (env['DAPR_API_TOKEN'] || undefined),
      maxBodyBytes: bodyLimit(options.httpApi?.maxBodyBytes, env),
      maxHeaderBytes: headerLimit(options.httpApi?.maxHeaderBytes, env),
      maxBulkKeys: options.httpApi?.maxBulkKeys ?? 10_000,
      requestTimeoutMs: options.httpApi?.requestTimeoutMs ?? 30_000,
      headersTimeoutMs: options.httpApi?.headersTimeoutMs ?? 10_000,
    },
    metrics: {
      enabled: options.metrics?.enabled ?? !['false', '0', 'off'].includes(env['SIDEKICK_METRICS_ENABLED']?.toLowerCase() ?? ''),
      host: options.metrics?.host ?? env['SIDEKICK_METRICS_HOST'] ?? '127.0.0.1',
      port: metricsPort,
    },
    nameResolution: {
      static: options.nameResolution?.static ?? {},
      localRegistry: registry === true ? (env['SIDEKICK_REGISTRY_DIR'] ?? defaultRegistryDir()) : registry === false ? false : registry,
      resolvers: options.nameResolution?.resolvers ?? [],
    },
    invokeTimeoutMs: options.invokeTimeoutMs ?? 60_000,
    pubsubRetry: options.pubsub?.retry ?? {},
    dataDir: options.dataDir ?? env['SIDEKICK_DATA_DIR'] ?? '.sidekick',
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    actors: {
      scanIntervalMs: options.actors?.scanIntervalMs ?? 30_000,
      turnTimeoutMs: options.actors?.turnTimeoutMs ?? 60_000,
      reminderFlushMs: options.actors?.reminderFlushMs ?? 1000,
      placement: {
        // `SIDEKICK_ACTORS_PLACEMENT=true`: the same from the environment (a sidecar started by `sidekick run`).
        enabled: options.actors?.placement?.enabled ?? ['true', '1', 'on'].includes(env['SIDEKICK_ACTORS_PLACEMENT']?.toLowerCase() ?? ''),
        leaseMs: options.actors?.placement?.leaseMs ?? 10_000,
      },
    },
    workflows: resolveWorkflows(options.workflows, env),
    interceptors: options.interceptors ?? [],
    namespace: env['NAMESPACE'] || undefined,
    logLevel: log.level,
    logFormat: log.format,
    logColor: log.color,
    appChannel: options.appChannel && resolveAppChannel(options.appChannel, env),
  };
}

/** The request body limit: a positive number of bytes, or Infinity (no limit, when 0 or negative is given). */
function bodyLimit(given: number | undefined, env: NodeJS.ProcessEnv): number {
  const fromEnv = env['SIDEKICK_HTTP_MAX_BODY_BYTES'];
  const bytes = given ?? (fromEnv ? Number(fromEnv) : 4 * 1024 * 1024);
  if (!Number.isInteger(bytes)) {
    throw new ConfigError(`HTTP API body limit "${String(given ?? fromEnv)}" is not a whole number of bytes (0 or less: no limit)`, {
      field: given !== undefined ? 'httpApi.maxBodyBytes' : 'SIDEKICK_HTTP_MAX_BODY_BYTES',
    });
  }
  return bytes <= 0 ? Infinity : bytes;
}

/** The request head limit in bytes (Node's `maxHeaderSize`); undefined: Node's default (16 KiB). */
function headerLimit(given: number | undefined, env: NodeJS.ProcessEnv): number | undefined {
  const fromEnv = env['SIDEKICK_HTTP_MAX_HEADER_BYTES'];
  const bytes = given ?? (fromEnv ? Number(fromEnv) : undefined);
  if (bytes === undefined) return undefined;
  if (!Number.isInteger(bytes) || bytes <= 0) {
    throw new ConfigError(`HTTP API header limit "${String(given ?? fromEnv)}" is not a positive whole number of bytes`, {
      field: given !== undefined ? 'httpApi.maxHeaderBytes' : 'SIDEKICK_HTTP_MAX_HEADER_BYTES',
    });
  }
  return bytes;
}

function resolveWorkflows(options: WorkflowRuntimeOptions | undefined, env: NodeJS.ProcessEnv): ResolvedOptions['workflows'] {
  const fromEnv = env['SIDEKICK_WORKFLOW_LEASE_MS'];
  const leaseMs = options?.leaseMs ?? (fromEnv ? Number(fromEnv) : 10_000);
  if (!Number.isInteger(leaseMs) || leaseMs < 300) {
    throw new ConfigError(`workflow lease "${String(options?.leaseMs ?? fromEnv)}" must be a whole number of milliseconds, at least 300`, {
      field: options?.leaseMs !== undefined ? 'workflows.leaseMs' : 'SIDEKICK_WORKFLOW_LEASE_MS',
    });
  }
  const pollMs = options?.pollMs ?? 100;
  if (!Number.isInteger(pollMs) || pollMs < 10)
    throw new ConfigError(`workflows.pollMs "${String(pollMs)}" must be a whole number, at least 10`, { field: 'workflows.pollMs' });
  const activities = options?.activities ?? 'local';
  if (activities !== 'local' && activities !== 'shared')
    throw new ConfigError(`workflows.activities "${String(activities)}" must be 'local' or 'shared'`, { field: 'workflows.activities' });
  return { leaseMs, pollMs, activities };
}

function resolveAppChannel(channel: AppChannelOptions, env: NodeJS.ProcessEnv): NonNullable<ResolvedOptions['appChannel']> {
  let url: URL;
  try {
    url = new URL(channel.url);
  } catch {
    throw new ConfigError(`app channel URL "${channel.url}" is not a URL: use http://host:port`, { field: 'appChannel.url' });
  }
  if (url.protocol !== 'http:')
    throw new ConfigError(`app channel URL "${channel.url}" must be http:// (other app protocols are not supported)`, { field: 'appChannel.url' });
  const check = channel.healthCheck;
  // With periodic checks the path defaults to daprd's /healthz.
  const path = channel.healthCheckPath || (check ? '/healthz' : undefined);
  return {
    url: url.origin,
    healthCheckPath: path ? (path.startsWith('/') ? path : `/${path}`) : undefined,
    probeIntervalMs: channel.probeIntervalMs ?? 100,
    apiToken: channel.apiToken ?? (env['APP_API_TOKEN'] || undefined),
    healthCheck: check && {
      intervalMs: positive(check.intervalMs ?? 5000, 'appChannel.healthCheck.intervalMs'),
      timeoutMs: positive(check.timeoutMs ?? 500, 'appChannel.healthCheck.timeoutMs'),
      threshold: positive(check.threshold ?? 3, 'appChannel.healthCheck.threshold'),
    },
    maxConcurrency: concurrency(channel.maxConcurrency),
  };
}

function concurrency(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigError(`appChannel.maxConcurrency must be a whole number from 1 up, got ${String(value)}`, { field: 'appChannel.maxConcurrency' });
  return value;
}

function positive(value: number, field: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`${field} must be a positive number, got ${String(value)}`, { field });
  return value;
}

/**
 * The logging environment, one rule for the module's logger and for `createSidekickLogger()` (which
 * runs before the module, when Nest is created): `SIDEKICK_LOG_LEVEL` (pino level, default `info`),
 * `SIDEKICK_LOG_FORMAT` (`pretty` or `json`; unset: `json` when `NODE_ENV=production`, else
 * `pretty`) and `NO_COLOR` (set and not empty: no colours).
 */
export function resolveLogSettings(env: NodeJS.ProcessEnv = process.env): LogSettings {
  const format = env['SIDEKICK_LOG_FORMAT'] || (env['NODE_ENV'] === 'production' ? 'json' : 'pretty');
  if (format !== 'pretty' && format !== 'json') {
    throw new ConfigError(`log format "${format}" is not one of pretty, json`, { field: 'SIDEKICK_LOG_FORMAT' });
  }
  return { level: env['SIDEKICK_LOG_LEVEL'] || 'info', format, color: !env['NO_COLOR'] };
}

/** One folder per user: another user's registry is never shared (and one they created for us is refused). */
export function defaultRegistryDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  return join(tmpdir(), uid === undefined ? 'sidekick-apps' : `sidekick-apps-${uid}`);
}
