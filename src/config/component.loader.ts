import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { formatIssues } from '../errors/zod-issues';
import { ConfigError } from '../errors/config.errors';
import type { ComponentKind } from '../spi/component';
import { type ComponentDocument, componentDocumentSchema, type MetadataItem } from './component.schema';
import { parseDuration } from './duration';

/** A validated component definition, before secrets are resolved. */
export interface ComponentSpec {
  readonly name: string;
  readonly type: string;
  readonly kind: ComponentKind;
  readonly version: string;
  readonly metadata: readonly MetadataItem[];
  readonly secretStore?: string;
  readonly initTimeoutMs: number;
  readonly ignoreErrors: boolean;
  readonly scopes?: readonly string[];
  /** `components/redis.yaml`, `(inline)` or `(default)`. */
  readonly source: string;
}

/** Any YAML document of a kind this runtime does not load yet (Subscription, Resiliency, ...). */
export interface OtherDocument {
  readonly kind: string;
  readonly source: string;
  readonly body: unknown;
}

export interface LoadedResources {
  readonly components: ComponentSpec[];
  readonly others: OtherDocument[];
}

const KINDS: readonly ComponentKind[] = ['state', 'secretstores', 'pubsub', 'bindings', 'configuration', 'lock', 'nameresolution'];
const DEFAULT_INIT_TIMEOUT_MS = 5000;

/** Reads every `*.yaml` / `*.yml` in `dir` (not recursive). A missing dir is empty unless `required`. */
export function loadResourcesDir(dir: string, required: boolean): LoadedResources {
  if (!existsSync(dir)) {
    if (required) throw new ConfigError(`resources path ${dir} does not exist; create it or leave resourcesPath unset`);
    return { components: [], others: [] };
  }
  if (!statSync(dir).isDirectory()) throw new ConfigError(`resources path ${dir} is not a directory`);
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/i.test(f))
    .sort()
    .map((f) => join(dir, f));
  const result: LoadedResources = { components: [], others: [] };
  for (const file of files) {
    const source = relative(process.cwd(), file) || file;
    const docs = parseAllDocuments(readFileSync(file, 'utf8'), { prettyErrors: true });
    const list = Array.isArray(docs) ? docs : [docs];
    for (const doc of list) {
      if (doc.errors.length > 0) {
        throw new ConfigError(`invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`, { file: source });
      }
      const body: unknown = doc.toJS();
      if (body === null || body === undefined) continue;
      const kind = typeof body === 'object' && 'kind' in body ? String((body as { kind: unknown }).kind) : undefined;
      if (kind === 'Component') result.components.push(parseComponent(body, source));
      else if (kind === undefined) throw new ConfigError('document has no "kind"; expected kind: Component', { file: source });
      else result.others.push({ kind, source, body });
    }
  }
  return result;
}

/** Validates one Component document (from a file or given inline as an object). */
export function parseComponent(body: unknown, source: string): ComponentSpec {
  const parsed = componentDocumentSchema.safeParse(body);
  const name = nameOf(body);
  if (!parsed.success) {
    throw new ConfigError(formatIssues(parsed.error.issues, allowedAt), { file: source, component: name });
  }
  const doc = parsed.data;
  const kind = doc.spec.type.split('.')[0] as ComponentKind;
  if (!KINDS.includes(kind)) {
    throw new ConfigError(`unknown component kind "${kind}" in spec.type "${doc.spec.type}"; kinds are ${KINDS.join(', ')}`, {
      file: source,
      component: doc.metadata.name,
      field: 'spec.type',
    });
  }
  const names = new Set<string>();
  doc.spec.metadata.forEach((item, i) => {
    if (names.has(item.name)) {
      throw new ConfigError(`metadata "${item.name}" appears twice`, { file: source, component: doc.metadata.name, field: `spec.metadata[${i}]` });
    }
    names.add(item.name);
    if (item.secretKeyRef && !doc.auth?.secretStore) {
      throw new ConfigError(`secretKeyRef needs auth.secretStore naming the secret store to read "${item.secretKeyRef.name}" from`, {
        file: source,
        component: doc.metadata.name,
        field: `spec.metadata[${i}].secretKeyRef`,
      });
    }
  });
  const context = { file: source, component: doc.metadata.name, field: 'spec.initTimeout' };
  return {
    name: doc.metadata.name,
    type: doc.spec.type,
    kind,
    version: doc.spec.version,
    metadata: doc.spec.metadata,
    secretStore: doc.auth?.secretStore,
    initTimeoutMs: doc.spec.initTimeout ? parseDuration(doc.spec.initTimeout, context) : DEFAULT_INIT_TIMEOUT_MS,
    ignoreErrors: doc.spec.ignoreErrors,
    scopes: doc.scopes,
    source,
  };
}

/** A component given in code: the YAML document without apiVersion and kind. */
export type InlineComponent = Omit<ComponentDocument, 'apiVersion' | 'kind'>;

/** Builds an inline component (same shape as the YAML) from options. */
export function inlineComponent(doc: InlineComponent): ComponentSpec {
  return parseComponent({ ...doc, apiVersion: 'dapr.io/v1alpha1', kind: 'Component' }, '(inline)');
}

function nameOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const meta = (body as { metadata?: { name?: unknown } }).metadata;
  return typeof meta?.name === 'string' ? meta.name : undefined;
}

function allowedAt(path: string): string {
  if (path === 'spec') return 'type, version, metadata, initTimeout, ignoreErrors';
  if (/^spec\.metadata\[\d+\]$/.test(path)) return 'name, value, secretKeyRef';
  if (path === 'auth') return 'secretStore';
  return 'see the component reference in README';
}
