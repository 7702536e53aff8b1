import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SidekickConfiguration } from '../../config/configuration.loader';
import type { Clock } from '../../spi/clock';
import type { Interceptor } from '../../spi/interceptor';
import type { SidekickLogger } from '../../spi/logger';
import type { ComponentManager } from '../components/component.manager';
import type { Discovery } from '../discovery/sidekick.explorer';
import type { ApiRoute } from '../http-api/api-context';
import type { Interception } from '../interception/interception';
import type { Readiness } from '../readiness';
import type { ResolvedOptions } from '../sidekick.options';
import type { SelfDispatcher } from './invoke/invoke.service';

/** A point in real time by which a stop must be done (operational time, never the virtual clock). */
export interface Deadline {
  /** Epoch ms. */
  readonly at: number;
  /** Milliseconds left (0 when passed). */
  remainingMs(): number;
}

export function deadlineIn(ms: number): Deadline {
  const at = Date.now() + ms;
  return { at, remainingMs: () => Math.max(0, at - Date.now()) };
}

/** The Nest app around the runtime, as blocks need it at start (set at bootstrap). */
export interface AppHost {
  /** The app's request listener (Express) or Fastify instance, for in-process invocation. */
  dispatcher(): SelfDispatcher | undefined;
  /** The app's own HTTP server (to learn its address once it listens). */
  httpServer(): Server | undefined;
  /** Where the Dapr HTTP API listens, once it does. */
  apiAddress(): AddressInfo | undefined;
}

/** Service classes blocks publish for other blocks and for `SidekickClient`. */
export type ServiceType<T> = abstract new (...args: never[]) => T;

/** What every block is built with. */
export interface BlockContext {
  readonly options: ResolvedOptions;
  readonly appId: string;
  /** Domain time: TTLs, backoff, timers, cron. */
  readonly clock: Clock;
  readonly logger: SidekickLogger;
  readonly components: ComponentManager;
  readonly readiness: Readiness;
  readonly interception: Interception;
  readonly host: AppHost;
  /** A service published by a block earlier in the list (throws naming it otherwise). */
  service<T>(type: ServiceType<T>): T;
  /** The app's `kind: Configuration` (Dapr's defaults when none); readable from `prepare()` on. */
  configuration(): SidekickConfiguration;
}

/** A block's part of `GET /v1.0/metadata`. */
export interface MetadataContribution {
  readonly subscriptions?: readonly unknown[];
  readonly actors?: readonly unknown[];
  readonly enabledFeatures?: readonly string[];
  readonly [field: string]: unknown;
}

/**
 * One building block (state, invoke, pub/sub, bindings, and later actors, workflows, ...). The
 * runtime builds the blocks of `BLOCKS` in order, then drives them:
 * module init → `prepare(discovery)` (validate, build; nothing runs yet) → bootstrap → `start()`
 * (consumers, input bindings, timers) → the HTTP API serves `routes()` → shutdown → `stop(deadline)`
 * in reverse order (drain in-flight work by the deadline) → components close.
 */
export interface BuildingBlock {
  readonly name: string;
  /** Services other blocks and `SidekickClient` use (looked up by class). */
  readonly services?: readonly object[];
  /**
   * Interceptors this block brings to the interception seam (tracing, metrics, resiliency policies),
   * asked once at module init after the Configuration is read and before components initialise.
   * Blocks earlier in the list are outermost; all of them sit outside the `interceptors` option's.
   */
  interceptors?(): readonly Interceptor[];
  prepare?(discovery: Discovery): void | Promise<void>;
  start?(): Promise<void>;
  stop?(deadline: Deadline): Promise<void>;
  /** The block's Dapr HTTP API routes. */
  routes?(): readonly ApiRoute[];
  /** The block's part of `/v1.0/metadata`. */
  metadata?(): MetadataContribution;
  /** The block's part of the start-up summary log line. */
  summary?(): SummaryContribution;
}

/** What a block adds to the start-up summary. */
export interface SummaryContribution {
  readonly subscriptions?: readonly { readonly pubsub: string; readonly topic: string; readonly routes: readonly string[] }[];
  readonly bindings?: readonly { readonly name: string; readonly handler: string }[];
}

/** An entry of the runtime's list of blocks. */
export interface BlockDefinition {
  readonly name: string;
  create(ctx: BlockContext): BuildingBlock;
}
