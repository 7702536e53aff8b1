import { z } from 'zod';
import type { DeclarativeSubscription } from '../../config/subscription.loader';
import { formatIssues } from '../../errors/zod-issues';

const SOURCE = 'GET /dapr/subscribe';

const bulk = z.object({
  enabled: z.boolean().default(false),
  maxMessagesCount: z.number().int().positive().optional(),
  maxAwaitDurationMs: z.number().int().positive().optional(),
});

/** One entry of the app's `GET /dapr/subscribe` answer: v1 (`route`) or v2 (`routes: { rules, default }`). */
const entrySchema = z.object({
  pubsubname: z.string().min(1),
  topic: z.string().min(1),
  route: z.string().optional(),
  routes: z
    .object({
      rules: z.array(z.object({ match: z.string(), path: z.string() })).nullish(),
      default: z.string().nullish(),
    })
    .nullish(),
  deadLetterTopic: z.string().nullish(),
  bulkSubscribe: bulk.nullish(),
  metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).nullish(),
});

export interface AppSubscriptions {
  readonly subscriptions: DeclarativeSubscription[];
  /** Entries that were skipped, with why (logged as warnings). */
  readonly skipped: string[];
}

/**
 * Reads the app's `GET /dapr/subscribe` body as daprd does: an array of subscriptions; `routes.default`
 * wins over `route`; rules without a path are dropped; an entry with no route at all is skipped.
 * Field names match case-insensitively (Go's JSON decoder; Python apps write `pubsubName`).
 */
export function parseAppSubscriptions(body: unknown): AppSubscriptions {
  if (!Array.isArray(body)) return { subscriptions: [], skipped: [`${SOURCE} did not answer a JSON array: no subscriptions`] };
  const subscriptions: DeclarativeSubscription[] = [];
  const skipped: string[] = [];
  for (const [i, raw] of body.entries()) {
    const parsed = entrySchema.safeParse(lowerKeys(raw));
    if (!parsed.success) {
      skipped.push(`${SOURCE} entry ${i}: ${formatIssues(parsed.error.issues)}`);
      continue;
    }
    const e = parsed.data;
    const rules = (e.routes?.rules ?? []).filter((r) => r.path !== '').map((r) => ({ match: r.match, path: r.path }));
    const defaultPath = e.routes?.default || e.route || undefined;
    if (!defaultPath && rules.length === 0) {
      skipped.push(`${SOURCE} entry ${i} (${e.pubsubname}/${e.topic}) has no route: skipped`);
      continue;
    }
    subscriptions.push({
      name: `${e.pubsubname}/${e.topic}`,
      pubsub: e.pubsubname,
      topic: e.topic,
      rules,
      defaultPath,
      deadLetterTopic: e.deadLetterTopic || undefined,
      bulk: e.bulkSubscribe?.enabled ? e.bulkSubscribe : undefined,
      metadata: e.metadata ?? {},
      source: SOURCE,
    });
  }
  return { subscriptions, skipped };
}

const CANONICAL = new Map(
  [
    'pubsubname',
    'topic',
    'route',
    'routes',
    'rules',
    'match',
    'path',
    'default',
    'deadLetterTopic',
    'bulkSubscribe',
    'enabled',
    'maxMessagesCount',
    'maxAwaitDurationMs',
    'metadata',
  ].map((k) => [k.toLowerCase(), k]),
);

/** Known field names in their canonical case, at every level except inside `metadata` (whose keys are the app's). */
function lowerKeys(value: unknown, inMetadata = false): unknown {
  if (Array.isArray(value)) return value.map((v) => lowerKeys(v));
  if (typeof value !== 'object' || value === null || inMetadata) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const lower = key.toLowerCase();
    const name = CANONICAL.get(lower) ?? key;
    out[name] = lowerKeys(v, name === 'metadata');
  }
  return out;
}
