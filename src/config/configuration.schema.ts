import { z } from 'zod';

/**
 * `kind: Configuration` (`dapr.io/v1alpha1`), the sections Sidekick reads. Dapr's other sections
 * (`mtls`, `httpPipeline`, `api`, ...) are accepted and listed as ignored; a field that is in no
 * section of Dapr's schema warns with the closest known name (see `configuration.loader.ts`).
 */
const flag = z.union([z.boolean(), z.enum(['true', 'false'])]).transform((v) => v === true || v === 'true');
const rate = z
  .union([z.string(), z.number()])
  .transform((v) => Number(v))
  .refine((n) => Number.isFinite(n) && n >= 0 && n <= 1, { message: 'samplingRate must be a number from 0 to 1, e.g. "1" or "0.01"' });

export const tracingSchema = z.object({
  samplingRate: rate.optional(),
  stdout: flag.optional(),
  zipkin: z.object({ endpointAddress: z.string().min(1, 'zipkin.endpointAddress is required, e.g. http://127.0.0.1:9411/api/v2/spans') }).optional(),
  otel: z
    .object({
      endpointAddress: z.string().min(1, 'otel.endpointAddress is required, e.g. 127.0.0.1:4318'),
      isSecure: flag.optional(),
      protocol: z.enum(['http', 'grpc'], { error: 'otel.protocol must be http or grpc' }).optional(),
    })
    .optional(),
});

export const metricSchema = z.object({
  enabled: flag.optional(),
  recordErrorCodes: flag.optional(),
  latencyDistributionBuckets: z.array(z.number().positive()).optional(),
  http: z
    .object({
      increasedCardinality: flag.optional(),
      pathMatching: z.array(z.string().min(1)).optional(),
      excludeVerbs: flag.optional(),
    })
    .optional(),
  rules: z.array(z.object({ name: z.string(), labels: z.array(z.object({ name: z.string(), regex: z.record(z.string(), z.string()) })) })).optional(),
});

const access = z.enum(['allow', 'deny'], { error: 'use allow or deny' });

export const secretScopeSchema = z.object({
  storeName: z.string().min(1, 'storeName is required'),
  defaultAccess: access.optional(),
  allowedSecrets: z.array(z.string()).optional(),
  deniedSecrets: z.array(z.string()).optional(),
});

export const accessControlSchema = z.object({
  defaultAction: access.optional(),
  trustDomain: z.string().optional(),
  policies: z
    .array(
      z.object({
        appId: z.string().min(1),
        defaultAction: access.optional(),
        trustDomain: z.string().optional(),
        namespace: z.string().optional(),
        operations: z.array(z.object({ name: z.string().min(1), httpVerb: z.array(z.string()).optional(), action: access })).optional(),
      }),
    )
    .optional(),
});

export const configurationSpecSchema = z.object({
  tracing: tracingSchema.optional(),
  metric: metricSchema.optional(),
  /** Dapr accepts both spellings. */
  metrics: metricSchema.optional(),
  features: z.array(z.object({ name: z.string().min(1), enabled: flag })).optional(),
  secrets: z.object({ scopes: z.array(secretScopeSchema).optional() }).optional(),
  accessControl: accessControlSchema.optional(),
  logging: z
    .object({ apiLogging: z.object({ enabled: flag.optional(), obfuscateURLs: flag.optional(), omitHealthChecks: flag.optional() }).optional() })
    .optional(),
});

export const configurationDocumentSchema = z.object({
  apiVersion: z.literal('dapr.io/v1alpha1', { error: 'apiVersion must be dapr.io/v1alpha1' }),
  kind: z.literal('Configuration'),
  metadata: z.object({ name: z.string().min(1, 'metadata.name is required'), namespace: z.string().optional() }).optional(),
  spec: configurationSpecSchema.nullish().transform((s) => s ?? {}),
});

/** The spec of a Configuration given in code (`SidekickModule.forRoot({ config: { tracing: ... } })`). */
export type ConfigurationSpecInput = z.input<typeof configurationSpecSchema>;

/**
 * Every field Dapr's Configuration schema has, by section (from Dapr's configuration-schema
 * reference). Fields here but not read by Sidekick are reported as ignored; fields in neither warn
 * as likely typos.
 */
export const DAPR_CONFIGURATION_FIELDS: Readonly<Record<string, readonly string[]>> = {
  spec: [
    'tracing',
    'metric',
    'metrics',
    'features',
    'secrets',
    'accessControl',
    'logging',
    'api',
    'httpPipeline',
    'appHttpPipeline',
    'nameResolution',
    'mtls',
    'components',
    'wasm',
    'workflow',
  ],
  'spec.tracing': ['samplingRate', 'stdout', 'zipkin', 'otel'],
  'spec.tracing.zipkin': ['endpointAddress'],
  'spec.tracing.otel': ['endpointAddress', 'isSecure', 'protocol', 'headers', 'timeout'],
  'spec.metric': ['enabled', 'recordErrorCodes', 'latencyDistributionBuckets', 'http', 'rules'],
  'spec.metrics': ['enabled', 'recordErrorCodes', 'latencyDistributionBuckets', 'http', 'rules'],
  'spec.metric.http': ['increasedCardinality', 'pathMatching', 'excludeVerbs'],
  'spec.metrics.http': ['increasedCardinality', 'pathMatching', 'excludeVerbs'],
  'spec.secrets': ['scopes'],
  'spec.accessControl': ['defaultAction', 'trustDomain', 'policies'],
  'spec.logging': ['apiLogging'],
  'spec.logging.apiLogging': ['enabled', 'obfuscateURLs', 'omitHealthChecks'],
};

/** Sections Sidekick reads (the rest of Dapr's schema is accepted and ignored, with one info line). */
export const READ_SECTIONS: readonly string[] = ['tracing', 'metric', 'metrics', 'features', 'secrets', 'accessControl', 'logging'];
