import { z } from 'zod';

const scalar = z
  .union([z.string(), z.number(), z.boolean()], { error: 'value must be a string, number or boolean (quote it in YAML)' })
  .transform((v) => String(v));

export const metadataItemSchema = z
  .object({
    name: z.string().min(1, 'a metadata entry needs a name'),
    value: scalar.optional(),
    secretKeyRef: z
      .object({ name: z.string().min(1), key: z.string().min(1).optional() })
      .strict()
      .optional(),
  })
  .strict()
  .refine((m) => !(m.value !== undefined && m.secretKeyRef !== undefined), {
    message: 'give either value or secretKeyRef, not both',
  });

/** One `kind: Component` document (`apiVersion: dapr.io/v1alpha1`). */
export const componentDocumentSchema = z.object({
  apiVersion: z.literal('dapr.io/v1alpha1', { error: 'apiVersion must be dapr.io/v1alpha1' }),
  kind: z.literal('Component'),
  metadata: z.object({
    name: z
      .string({ error: 'metadata.name is required' })
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, ".", "_" and "-" (starting with a letter or digit)'),
    namespace: z.string().optional(),
  }),
  spec: z
    .object({
      type: z.string({ error: 'spec.type is required, e.g. state.redis' }).regex(/^[a-z]+\.[A-Za-z0-9.\-_]+$/, 'expected "<kind>.<name>", e.g. state.redis'),
      version: z.string().default('v1'),
      // `metadata:` with nothing under it (as in the js-sdk's own component files) is no metadata.
      metadata: z
        .array(metadataItemSchema)
        .nullish()
        .transform((m) => m ?? []),
      initTimeout: z.string().optional(),
      ignoreErrors: z.boolean().default(false),
    })
    .strict(),
  auth: z
    .object({ secretStore: z.string().min(1) })
    .strict()
    .optional(),
  scopes: z.array(z.string().min(1)).optional(),
});

export type ComponentDocument = z.input<typeof componentDocumentSchema>;
export type MetadataItem = z.output<typeof metadataItemSchema>;
