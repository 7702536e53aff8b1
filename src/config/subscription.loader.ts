import { z } from 'zod';
import { formatIssues } from '../errors/zod-issues';
import { ConfigError } from '../errors/config.errors';
import type { OtherDocument } from './component.loader';

const route = z.string().min(1);
const bulk = z
  .object({ enabled: z.boolean(), maxMessagesCount: z.number().int().positive().optional(), maxAwaitDurationMs: z.number().int().positive().optional() })
  .strict();

const subscriptionSchema = z.object({
  apiVersion: z.enum(['dapr.io/v2alpha1', 'dapr.io/v1alpha1'], { error: 'apiVersion must be dapr.io/v2alpha1 (or v1alpha1)' }),
  kind: z.literal('Subscription'),
  metadata: z.object({ name: z.string().min(1, 'metadata.name is required') }),
  spec: z
    .object({
      pubsubname: z.string({ error: 'spec.pubsubname is required' }).min(1),
      topic: z.string({ error: 'spec.topic is required' }).min(1),
      route: route.optional(),
      routes: z
        .object({ rules: z.array(z.object({ match: z.string().min(1), path: route }).strict()).default([]), default: route.optional() })
        .strict()
        .optional(),
      deadLetterTopic: z.string().min(1).optional(),
      bulkSubscribe: bulk.optional(),
      metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    })
    .strict(),
  scopes: z.array(z.string()).optional(),
});

/** A declarative subscription: events are POSTed to this app's own HTTP routes. */
export interface DeclarativeSubscription {
  readonly name: string;
  readonly pubsub: string;
  readonly topic: string;
  readonly rules: readonly { match: string; path: string }[];
  readonly defaultPath?: string;
  readonly deadLetterTopic?: string;
  readonly bulk?: z.output<typeof bulk>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly scopes?: readonly string[];
  readonly source: string;
}

/** Validates the `kind: Subscription` documents found in the resources path. */
export function loadSubscriptions(docs: readonly OtherDocument[]): DeclarativeSubscription[] {
  return docs
    .filter((d) => d.kind === 'Subscription')
    .map((doc) => {
      const parsed = subscriptionSchema.safeParse(doc.body);
      const name = (doc.body as { metadata?: { name?: string } } | undefined)?.metadata?.name;
      if (!parsed.success) {
        const reason = formatIssues(parsed.error.issues);
        throw new ConfigError(`subscription${name ? ` "${name}"` : ''}: ${reason}`, { file: doc.source });
      }
      const { spec, metadata, scopes } = parsed.data;
      const defaultPath = spec.routes?.default ?? spec.route;
      if (!defaultPath && (spec.routes?.rules.length ?? 0) === 0) {
        throw new ConfigError(`subscription "${metadata.name}" has no route: set spec.routes.default, spec.routes.rules or spec.route`, { file: doc.source });
      }
      return {
        name: metadata.name,
        pubsub: spec.pubsubname,
        topic: spec.topic,
        rules: spec.routes?.rules ?? [],
        defaultPath,
        deadLetterTopic: spec.deadLetterTopic,
        bulk: spec.bulkSubscribe,
        metadata: spec.metadata,
        scopes,
        source: doc.source,
      };
    });
}
