import { z } from 'zod';
import { parseDurationMs } from '../blocks/actors/actor-schedule';

/** One actor type of the app behind the sidecar, with its settings resolved (`entitiesConfig` over the top level over Dapr's defaults). */
export interface AppActorType {
  readonly type: string;
  readonly idleTimeoutMs: number;
  readonly scanIntervalMs: number;
  readonly drainOngoingCallTimeoutMs: number;
  readonly drainRebalancedActors: boolean;
  readonly reentrant: boolean;
  readonly maxStackDepth: number;
}

/** What the app answers on `GET /dapr/config`, resolved per type; `problems` are fields ignored (with why). */
export interface AppActorConfig {
  readonly types: readonly AppActorType[];
  /** The shortest scan interval asked for (the runtime has one idle scan). */
  readonly scanIntervalMs?: number;
  readonly problems: readonly string[];
}

/** Dapr's defaults (docs.dapr.io, "Actor runtime configuration parameters"). */
const DEFAULTS = {
  idleTimeoutMs: 60 * 60_000,
  scanIntervalMs: 30_000,
  drainOngoingCallTimeoutMs: 60_000,
  drainRebalancedActors: true,
  reentrant: false,
  maxStackDepth: 32,
} as const;

const settings = {
  actorIdleTimeout: z.unknown().optional(),
  actorScanInterval: z.unknown().optional(),
  drainOngoingCallTimeout: z.unknown().optional(),
  drainRebalancedActors: z.unknown().optional(),
  reentrancy: z.unknown().optional(),
};
const configSchema = z.object({ entities: z.unknown().optional(), entitiesConfig: z.unknown().optional(), ...settings });
const entityConfigSchema = z.object({ entities: z.array(z.string()), ...settings });
const reentrancySchema = z.object({ enabled: z.boolean().optional(), maxStackDepth: z.number().int().positive().optional() });

type Settings = Omit<AppActorType, 'type'>;

/**
 * Reads the app's actor configuration as daprd does: `entities` (the types it hosts), the settings
 * `actorIdleTimeout`, `actorScanInterval`, `drainOngoingCallTimeout` (Go durations), `drainRebalancedActors`,
 * `reentrancy: {enabled, maxStackDepth}`, and `entitiesConfig[]` overriding them per type. A field that
 * cannot be read is ignored with a problem naming it (its default applies); the rest is used.
 */
export function parseAppActorConfig(raw: unknown): AppActorConfig {
  const problems: string[] = [];
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) return { types: [], problems: ['GET /dapr/config did not answer a JSON object: no actor types'] };
  const doc = parsed.data;
  const entities = Array.isArray(doc.entities) ? doc.entities : [];
  if (doc.entities !== undefined && !Array.isArray(doc.entities)) problems.push('GET /dapr/config: "entities" is not an array of actor type names: ignored');
  const names = entities.filter((e): e is string => {
    const ok = typeof e === 'string' && e !== '';
    if (!ok) problems.push(`GET /dapr/config: entities holds ${JSON.stringify(e)}, not an actor type name: ignored`);
    return ok;
  });
  const base = resolve(doc, DEFAULTS, 'GET /dapr/config', problems);
  const perType = new Map<string, Settings>();
  const list = Array.isArray(doc.entitiesConfig) ? doc.entitiesConfig : [];
  list.forEach((item, i) => {
    const entry = entityConfigSchema.safeParse(item);
    if (!entry.success) {
      problems.push(`GET /dapr/config: entitiesConfig[${i}] has no "entities" array of type names: ignored`);
      return;
    }
    const resolved = resolve(entry.data, base, `GET /dapr/config: entitiesConfig[${i}]`, problems);
    for (const type of entry.data.entities) {
      // daprd: a per-type configuration for a type missing from the top-level list is ignored.
      if (!names.includes(type)) problems.push(`GET /dapr/config: entitiesConfig[${i}] configures "${type}", which is not in "entities": ignored`);
      else perType.set(type, resolved);
    }
  });
  const types = [...new Set(names)].map((type) => ({ type, ...(perType.get(type) ?? base) }));
  const scans = types.map((t) => t.scanIntervalMs);
  return { types, scanIntervalMs: scans.length > 0 ? Math.min(...scans) : undefined, problems };
}

function resolve(doc: z.output<typeof configSchema>, fallback: Settings, where: string, problems: string[]): Settings {
  const duration = (field: keyof typeof settings, value: unknown, dflt: number): number => {
    if (value === undefined || value === null || value === '') return dflt;
    const ms = typeof value === 'string' ? parseDurationMs(value.trim()) : undefined;
    if (ms !== undefined && Number.isFinite(ms) && ms > 0) return ms;
    problems.push(`${where}: ${field} ${JSON.stringify(value)} is not a positive Go duration (such as "1h", "30s"): the default applies`);
    return dflt;
  };
  let reentrant = fallback.reentrant;
  let maxStackDepth = fallback.maxStackDepth;
  if (doc.reentrancy !== undefined && doc.reentrancy !== null) {
    const r = reentrancySchema.safeParse(doc.reentrancy);
    if (!r.success) problems.push(`${where}: reentrancy must be {enabled: boolean, maxStackDepth?: positive integer}: ignored`);
    else {
      reentrant = r.data.enabled ?? false;
      maxStackDepth = r.data.maxStackDepth ?? DEFAULTS.maxStackDepth;
    }
  }
  let drainRebalancedActors = fallback.drainRebalancedActors;
  if (typeof doc.drainRebalancedActors === 'boolean') drainRebalancedActors = doc.drainRebalancedActors;
  else if (doc.drainRebalancedActors !== undefined && doc.drainRebalancedActors !== null) {
    problems.push(`${where}: drainRebalancedActors must be true or false: ignored`);
  }
  return {
    idleTimeoutMs: duration('actorIdleTimeout', doc.actorIdleTimeout, fallback.idleTimeoutMs),
    scanIntervalMs: duration('actorScanInterval', doc.actorScanInterval, fallback.scanIntervalMs),
    drainOngoingCallTimeoutMs: duration('drainOngoingCallTimeout', doc.drainOngoingCallTimeout, fallback.drainOngoingCallTimeoutMs),
    drainRebalancedActors,
    reentrant,
    maxStackDepth,
  };
}
