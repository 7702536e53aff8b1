import type * as CelModule from '@bufbuild/cel';
import { ConfigError } from '../../../errors/config.errors';
import type { RouteTarget, TopicEvent } from './pubsub.types';

type Compiled = (bindings: Record<string, unknown>) => unknown;

/** @bufbuild/cel, loaded only when some route has rules (it costs ~100 ms of start-up): see {@link loadCel}. */
export type Cel = typeof CelModule;

/** Loads the CEL library when any of `targets` has rules, else nothing. */
export async function loadCel(targets: readonly RouteTarget[]): Promise<Cel | undefined> {
  return targets.some((t) => t.rules.length > 0) ? import('@bufbuild/cel') : undefined;
}

interface CompiledRoute {
  readonly target: RouteTarget;
  readonly rules: readonly { readonly source: string; readonly fn: Compiled }[];
}

/**
 * The routing table of one topic: rules (CEL, on `event.*`) tried in order, then the default route.
 * Expressions are compiled once at start-up; a bad one fails start-up naming the route.
 */
export class Router {
  private readonly routes: CompiledRoute[];
  private readonly fallback?: RouteTarget;
  private readonly isCelError?: Cel['isCelError'];

  /** `cel` is required when a target has rules (see {@link loadCel}). */
  constructor(targets: readonly RouteTarget[], where: string, cel: Cel | undefined) {
    const defaults = targets.filter((t) => t.rules.length === 0);
    if (defaults.length > 1) {
      throw new ConfigError(`${where} has more than one default route (${defaults.map((d) => d.name).join(', ')}); give all but one \`rules\``);
    }
    this.fallback = defaults[0];
    const ruled = targets.filter((t) => t.rules.length > 0);
    this.routes = [];
    if (ruled.length === 0) return;
    if (!cel) throw new Error(`${where}: routing rules need the CEL library (loadCel)`);
    const env = cel.celEnv();
    this.isCelError = cel.isCelError;
    this.routes = ruled.map((target) => ({
      target,
      rules: target.rules.map((source) => {
        try {
          return { source, fn: cel.plan(env, cel.parse(source)) as Compiled };
        } catch (err) {
          throw new ConfigError(`routing rule of ${target.name} is not valid CEL: ${source}: ${(err as Error).message}`, { field: `${where} rules` });
        }
      }),
    }));
  }

  /** The route for an event, or `undefined` when no rule matches and there is no default. */
  route(event: TopicEvent, onError: (rule: string, err: Error) => void): RouteTarget | undefined {
    if (this.routes.length === 0) return this.fallback;
    const bindings = { event: { ...event.envelope, data: event.data } };
    for (const route of this.routes) {
      for (const rule of route.rules) {
        const result = rule.fn(bindings);
        if (result === true) return route.target;
        if (this.isCelError?.(result)) onError(rule.source, result as unknown as Error);
      }
    }
    return this.fallback;
  }

  /** Rules as `/v1.0/metadata` lists them. */
  describe(): { match: string; path: string }[] {
    const rules = this.routes.flatMap((r) => r.rules.map((rule) => ({ match: rule.source, path: r.target.path ?? '' })));
    return this.fallback ? [...rules, { match: '', path: this.fallback.path ?? '' }] : rules;
  }

  /** Handler names in route order (logs). */
  handlers(): string[] {
    return [...this.routes.map((r) => r.target.name), ...(this.fallback ? [this.fallback.name] : [])];
  }
}
