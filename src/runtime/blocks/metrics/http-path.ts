import type { MetricSettings } from '../../../config/configuration.loader';

/** What `path` reads for a request no `pathMatching` pattern matched (daprd's). */
export const UNMATCHED_PATH = '_';

/**
 * The `path` label of the HTTP server metrics, bounded whatever the traffic (no key, id or other
 * caller-chosen segment ever becomes a label value), following the Configuration's `spec.metric.http`:
 *
 * - `pathMatching` set: the first pattern that matches the request path (`/v1.0/invoke/orders/method/items/{id}`;
 *   a `{name}` segment matches any one segment; for service invocation the invoked method path is
 *   tried as well, so `/items/{id}` matches `/v1.0/invoke/<app>/method/items/7`), else `_`.
 * - `increasedCardinality: true`: the route's template with component names filled in
 *   (`/v1.0/state/statestore/*`): one series per route and component, never per key.
 * - otherwise (daprd's default since 1.14): no path label.
 */
export class HttpPathLabeler {
  private readonly patterns: readonly { readonly source: string; readonly segments: readonly string[] }[];

  constructor(
    private readonly settings: MetricSettings['http'],
    private readonly componentNames: () => ReadonlySet<string>,
  ) {
    this.patterns = settings.pathMatching.map((source) => ({ source, segments: split(source) }));
  }

  /** True when requests get a path label at all. */
  get labelled(): boolean {
    return this.patterns.length > 0 || this.settings.increasedCardinality === true;
  }

  /** `template` is the route's find-my-way path (`/v1.0/state/:store/:key`), `path` the request's. */
  label(template: string, path: string): string | undefined {
    if (this.patterns.length > 0) return this.match(path) ?? UNMATCHED_PATH;
    if (this.settings.increasedCardinality !== true) return undefined;
    return this.fill(template, path);
  }

  private match(path: string): string | undefined {
    const segments = split(path);
    const method = invokedMethod(segments);
    for (const pattern of this.patterns) {
      if (matches(pattern.segments, segments) || (method && matches(pattern.segments, method))) return pattern.source;
    }
    return undefined;
  }

  private fill(template: string, path: string): string {
    const names = this.componentNames();
    const parts = split(template);
    const actual = split(path);
    const filled = parts.map((part, i) => {
      const value = actual[i];
      return part.startsWith(':') && value !== undefined && names.has(decodeSafe(value)) ? decodeSafe(value) : part;
    });
    return `/${filled.join('/')}`;
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

/** `v1.0/invoke/<app>/method/<rest...>` → the segments of `<rest>`. */
function invokedMethod(segments: readonly string[]): readonly string[] | undefined {
  return segments[1] === 'invoke' && segments[3] === 'method' ? segments.slice(4) : undefined;
}

function matches(pattern: readonly string[], segments: readonly string[]): boolean {
  if (pattern.length !== segments.length) return false;
  return pattern.every((p, i) => (p.startsWith('{') && p.endsWith('}')) || p === segments[i]);
}

function decodeSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
