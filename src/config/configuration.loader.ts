import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigError } from '../errors/config.errors';
import { formatIssues } from '../errors/zod-issues';
import { closestName } from '../spi/metadata-reader';
import type { OtherDocument } from './component.loader';
import { type ConfigurationSpecInput, configurationDocumentSchema, DAPR_CONFIGURATION_FIELDS, READ_SECTIONS } from './configuration.schema';

/** Dapr's sampling rate when `spec.tracing` is present without `samplingRate` (1 in 10 000). */
export const DEFAULT_SAMPLING_RATE = 0.0001;

export interface TracingSettings {
  /** 0 (nothing sampled) to 1 (everything). */
  readonly samplingRate: number;
  /** Also write spans to the log. */
  readonly stdout: boolean;
  readonly zipkin?: { readonly endpointAddress: string };
  readonly otel?: { readonly endpointAddress: string; readonly isSecure: boolean; readonly protocol: 'http' | 'grpc' };
}

export interface MetricSettings {
  /** As written; `undefined` when the Configuration does not say (the metrics block picks its default). */
  readonly enabled?: boolean;
  readonly recordErrorCodes: boolean;
  readonly latencyDistributionBuckets?: readonly number[];
  readonly http: { readonly increasedCardinality?: boolean; readonly pathMatching: readonly string[]; readonly excludeVerbs: boolean };
}

export interface SecretScope {
  readonly storeName: string;
  readonly defaultAccess: 'allow' | 'deny';
  readonly allowedSecrets: readonly string[];
  readonly deniedSecrets: readonly string[];
}

export interface AccessControlPolicy {
  readonly appId: string;
  readonly defaultAction?: 'allow' | 'deny';
  readonly trustDomain?: string;
  readonly namespace?: string;
  readonly operations: readonly { readonly name: string; readonly httpVerb: readonly string[]; readonly action: 'allow' | 'deny' }[];
}

export interface AccessControlSettings {
  readonly defaultAction: 'allow' | 'deny';
  readonly trustDomain: string;
  readonly policies: readonly AccessControlPolicy[];
}

/** The app's `kind: Configuration`, validated, with Dapr's defaults applied. */
export interface SidekickConfiguration {
  readonly name: string;
  /** Where it came from: a file path, `(inline)`, or `(none)` when the app has no Configuration. */
  readonly source: string;
  /** Absent when the Configuration has no `spec.tracing`: no tracing at all. */
  readonly tracing?: TracingSettings;
  readonly metric: MetricSettings;
  /** `spec.features[]` by name. */
  readonly features: ReadonlyMap<string, boolean>;
  /** `spec.secrets.scopes[]` (applied by the secrets block). */
  readonly secretScopes: readonly SecretScope[];
  /** `spec.accessControl` (applied by service invocation when it supports it). */
  readonly accessControl?: AccessControlSettings;
  readonly apiLogging: { readonly enabled: boolean; readonly obfuscateURLs: boolean; readonly omitHealthChecks: boolean };
}

/** What the loader reports while reading (unknown fields, ignored sections). */
export interface ConfigurationWarnings {
  warn(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
}

export interface ConfigurationSource {
  /** A file path, or a Configuration given in code (its spec, or the whole document). */
  readonly config?: string | ConfigurationSpecInput | Readonly<Record<string, unknown>>;
  /** `kind: Configuration` documents found in the resources path. */
  readonly resourceDocuments: readonly OtherDocument[];
}

/**
 * The app's Configuration: `config` (a file, or given in code) when set, else the one
 * `kind: Configuration` document in the resources path, else none (no tracing, Dapr's defaults).
 * Two in the resources path, or one next to an explicit `config`, is an error naming both.
 */
export function resolveConfiguration(source: ConfigurationSource, log: ConfigurationWarnings): SidekickConfiguration {
  const inResources = source.resourceDocuments.filter((d) => d.kind === 'Configuration');
  if (source.config !== undefined) {
    if (inResources[0]) {
      log.warn(
        { file: inResources[0].source },
        'a kind: Configuration in the resources path is ignored: the app is given a Configuration explicitly (config option / --config / SIDEKICK_CONFIG)',
      );
    }
    if (typeof source.config === 'string') return parseConfiguration(readConfigurationFile(source.config), relativeName(source.config), log);
    const inline = source.config as Record<string, unknown>;
    const body = 'kind' in inline ? inline : { apiVersion: 'dapr.io/v1alpha1', kind: 'Configuration', metadata: { name: 'inline' }, spec: inline };
    return parseConfiguration(body, '(inline)', log);
  }
  const [first, second] = inResources;
  if (second && first) {
    throw new ConfigError(`two kind: Configuration documents (${first.source} and ${second.source}); an app has one Configuration: merge them`, {
      file: second.source,
    });
  }
  return first ? parseConfiguration(first.body, first.source, log) : noConfiguration();
}

/** Dapr's defaults with no Configuration: no tracing, metrics as the metrics block defaults them. */
export function noConfiguration(): SidekickConfiguration {
  return {
    name: '(none)',
    source: '(none)',
    metric: { recordErrorCodes: false, http: { pathMatching: [], excludeVerbs: false } },
    features: new Map(),
    secretScopes: [],
    apiLogging: { enabled: false, obfuscateURLs: false, omitHealthChecks: false },
  };
}

/** Validates one Configuration document. */
export function parseConfiguration(body: unknown, source: string, log: ConfigurationWarnings): SidekickConfiguration {
  const parsed = configurationDocumentSchema.safeParse(body);
  if (!parsed.success) throw new ConfigError(`Configuration: ${formatIssues(parsed.error.issues)}`, { file: source });
  const doc = parsed.data;
  reportUnknownFields(body, source, log);
  const spec = doc.spec;
  if (spec.metric && spec.metrics) throw new ConfigError('Configuration has both spec.metric and spec.metrics; keep one', { file: source });
  const metric = spec.metric ?? spec.metrics;
  const tracing = spec.tracing;
  const acl = spec.accessControl;
  return {
    name: doc.metadata?.name ?? '(unnamed)',
    source,
    tracing: tracing
      ? {
          samplingRate: tracing.samplingRate ?? DEFAULT_SAMPLING_RATE,
          stdout: tracing.stdout ?? false,
          zipkin: tracing.zipkin,
          otel: tracing.otel
            ? { endpointAddress: tracing.otel.endpointAddress, isSecure: tracing.otel.isSecure ?? false, protocol: tracing.otel.protocol ?? 'http' }
            : undefined,
        }
      : undefined,
    metric: {
      enabled: metric?.enabled,
      recordErrorCodes: metric?.recordErrorCodes ?? false,
      latencyDistributionBuckets: metric?.latencyDistributionBuckets,
      http: {
        increasedCardinality: metric?.http?.increasedCardinality,
        pathMatching: metric?.http?.pathMatching ?? [],
        excludeVerbs: metric?.http?.excludeVerbs ?? false,
      },
    },
    features: new Map((spec.features ?? []).map((f) => [f.name, f.enabled])),
    secretScopes: (spec.secrets?.scopes ?? []).map((s) => ({
      storeName: s.storeName,
      defaultAccess: s.defaultAccess ?? 'allow',
      allowedSecrets: s.allowedSecrets ?? [],
      deniedSecrets: s.deniedSecrets ?? [],
    })),
    accessControl: acl
      ? {
          defaultAction: acl.defaultAction ?? 'allow',
          trustDomain: acl.trustDomain ?? 'public',
          policies: (acl.policies ?? []).map((p) => ({
            appId: p.appId,
            defaultAction: p.defaultAction,
            trustDomain: p.trustDomain,
            namespace: p.namespace,
            operations: (p.operations ?? []).map((o) => ({ name: o.name, httpVerb: o.httpVerb ?? ['*'], action: o.action })),
          })),
        }
      : undefined,
    apiLogging: {
      enabled: spec.logging?.apiLogging?.enabled ?? false,
      obfuscateURLs: spec.logging?.apiLogging?.obfuscateURLs ?? false,
      omitHealthChecks: spec.logging?.apiLogging?.omitHealthChecks ?? false,
    },
  };
}

function readConfigurationFile(file: string): unknown {
  const name = relativeName(file);
  if (!existsSync(file)) throw new ConfigError(`Configuration file ${file} does not exist; fix the path (config option / --config / SIDEKICK_CONFIG)`);
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const bodies: unknown[] = [];
  for (const doc of list) {
    if (doc.errors.length > 0) throw new ConfigError(`invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`, { file: name });
    const body: unknown = doc.toJS();
    if (body !== null && body !== undefined) bodies.push(body);
  }
  const configs = bodies.filter((b) => typeof b === 'object' && b !== null && (b as { kind?: unknown }).kind === 'Configuration');
  if (configs.length !== 1) {
    throw new ConfigError(`expected one document with kind: Configuration, found ${configs.length}`, { file: name });
  }
  return configs[0];
}

/** Warns for fields in no section of Dapr's schema (typos), and notes Dapr sections Sidekick does not use. */
function reportUnknownFields(body: unknown, source: string, log: ConfigurationWarnings): void {
  const spec = (body as { spec?: unknown }).spec;
  const walk = (value: unknown, path: string): void => {
    const known = DAPR_CONFIGURATION_FIELDS[path];
    if (!known || typeof value !== 'object' || value === null || Array.isArray(value)) return;
    for (const [key, child] of Object.entries(value)) {
      if (!known.includes(key)) {
        const suggestion = closestName(key, known);
        log.warn(
          { file: source, field: `${path}.${key}` },
          `${path}.${key} is not a Configuration field (ignored)${suggestion ? `; did you mean ${suggestion}?` : ''}`,
        );
        continue;
      }
      if (path === 'spec' && !READ_SECTIONS.includes(key)) {
        log.info({ file: source, field: `spec.${key}` }, `spec.${key} is not used by Sidekick (ignored)`);
        continue;
      }
      walk(child, `${path}.${key}`);
    }
  };
  walk(spec, 'spec');
}

function relativeName(file: string): string {
  return relative(process.cwd(), file) || file;
}
