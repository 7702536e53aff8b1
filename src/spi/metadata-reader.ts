import { type BareNumberUnit, parseDuration } from '../config/duration';
import { ConfigError } from '../errors/config.errors';
import type { ComponentInit, ComponentMetadata } from './component';

/** Which component a reader serves, for error messages and warnings. */
export interface MetadataReaderContext {
  /** `metadata.name` of the component. */
  readonly component: string;
  /** `spec.type`, e.g. `state.redis`. */
  readonly type: string;
  /** The file the component came from, `(inline)` or `(default)`. */
  readonly source: string;
}

export interface IntBounds {
  readonly min?: number;
  readonly max?: number;
}

export interface DurationOptions extends IntBounds {
  /**
   * What a bare integer means. Default `seconds`, as Dapr's metadata decoder reads time.Duration
   * fields; `milliseconds` only where Dapr's component documents it (the Redis components,
   * Kafka's `consumeRetryInterval`).
   */
  readonly bareNumber?: BareNumberUnit;
}

/** An unknown metadata key, with the closest key the component knows (when one is close enough). */
export interface UnknownKey {
  readonly key: string;
  readonly suggestion?: string;
  /** `spec.metadata.redisHots is not used by pubsub.redis (ignored); did you mean redisHost?` */
  readonly message: string;
}

/**
 * Generic keys the runtime reads itself (Dapr's built-in metadata): never reported as unknown.
 * `keyPrefix`/`actorStateStore` (state), `direction`/`route` (bindings), `consumerID` (pub/sub,
 * the consumer group Dapr injects).
 */
export const RUNTIME_METADATA_KEYS: readonly string[] = ['keyPrefix', 'actorStateStore', 'direction', 'route', 'consumerID'];

const TRUTHY = new Set(['1', 't', 'true', 'y', 'yes', 'on']);
const FALSY = new Set(['0', 'f', 'false', 'n', 'no', 'off']);
const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
};

/** dapr/kit's `utils.IsTruthy`: `1`, `t`, `true`, `y`, `yes`, `on` (any case); anything else is false. */
export function isTruthy(value: string | undefined): boolean {
  return value !== undefined && TRUTHY.has(value.trim().toLowerCase());
}

/**
 * Typed, validated access to a component's `spec.metadata`, the one parser every component uses.
 * Names match case-insensitively (`clientID` = `clientId`), as components-contrib's decoder does;
 * a blank value counts as absent. A bad value is a ConfigError naming the file, the component, the
 * field `spec.metadata.<name>`, the value and what is allowed. Every name asked for is recorded, so
 * {@link unknownKeys} can report the keys a component never read (typos, unsupported options).
 */
export class MetadataReader {
  private readonly entries = new Map<string, { readonly key: string; readonly value: string }>();
  /** Lower-cased name → the name as the component spells it. */
  private readonly asked = new Map<string, string>();

  constructor(
    metadata: ComponentMetadata,
    readonly context: MetadataReaderContext,
  ) {
    for (const [key, value] of Object.entries(metadata)) {
      const lower = key.toLowerCase();
      const other = this.entries.get(lower);
      if (other) throw this.error(key, `"${key}" and "${other.key}" are the same field (names are case-insensitive); keep one`);
      this.entries.set(lower, { key, value });
    }
  }

  /** True when the field is given with a non-blank value. */
  has(name: string): boolean {
    return this.lookup(name) !== undefined;
  }

  /** The value exactly as given (not trimmed: passwords, tokens, separators), or undefined when absent or blank. */
  raw(name: string): string | undefined {
    return this.lookup(name)?.value;
  }

  /** The trimmed value, or `fallback` when absent or blank. */
  text(name: string): string | undefined;
  text(name: string, fallback: string): string;
  text(name: string, fallback?: string): string | undefined {
    return this.lookup(name)?.value.trim() ?? fallback;
  }

  /** The trimmed value; a ConfigError `<name> is required (<hint>)` when absent or blank. */
  required(name: string, hint?: string): string {
    const value = this.text(name);
    if (value !== undefined) return value;
    // A typo of a required field fails before any warning could be logged: point at it here.
    const typo = [...this.entries.values()].map((e) => e.key).find((key) => closestName(key, [name]) !== undefined && key.toLowerCase() !== name.toLowerCase());
    const seen = typo === undefined ? '' : `; spec.metadata has "${typo}": did you mean ${name}?`;
    throw this.error(name, `${name} is required${hint ? ` (${hint})` : ''}${seen}`);
  }

  /** A comma-separated list, items trimmed, empty items dropped. */
  list(name: string): string[] {
    return (this.text(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }

  /** A whole number within `bounds`. */
  int(name: string): number | undefined;
  int(name: string, fallback: number, bounds?: IntBounds): number;
  int(name: string, fallback: undefined, bounds: IntBounds): number | undefined;
  int(name: string, fallback?: number, bounds: IntBounds = {}): number | undefined {
    const value = this.text(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^[-+]?\d+$/.test(value) || !Number.isSafeInteger(n)) throw this.bad(name, value, `not an integer${describeBounds(bounds)}`);
    this.checkBounds(name, value, n, bounds);
    return n;
  }

  /** Dapr's truthy forms (`true`/`1`/`yes`/`on`/`t`/`y`, any case) or falsy ones (`false`/`0`/`no`/`off`/`f`/`n`). */
  bool(name: string): boolean | undefined;
  bool(name: string, fallback: boolean): boolean;
  bool(name: string, fallback?: boolean): boolean | undefined {
    const value = this.text(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    if (TRUTHY.has(lower)) return true;
    if (FALSY.has(lower)) return false;
    throw this.bad(name, value, 'not a boolean; use true or false (or 1/0, yes/no, on/off)');
  }

  /**
   * Milliseconds, from a Go duration (`500ms`, `1h30m`), an ISO-8601 duration (`PT30S`) or a bare
   * integer: SECONDS, as Dapr's metadata decoder reads it (see {@link DurationOptions.bareNumber}).
   */
  duration(name: string): number | undefined;
  duration(name: string, fallback: number, options?: DurationOptions): number;
  duration(name: string, fallback: undefined, options: DurationOptions): number | undefined;
  duration(name: string, fallback?: number, options: DurationOptions = {}): number | undefined {
    const value = this.text(name);
    if (value === undefined) return fallback;
    const ms = parseDuration(value, this.fieldContext(name), options.bareNumber);
    const { min, max } = options;
    if ((min !== undefined && ms < min) || (max !== undefined && ms > max)) {
      const range = min !== undefined && max !== undefined ? `between ${min} and ${max} ms` : min !== undefined ? `at least ${min} ms` : `at most ${max} ms`;
      throw this.bad(name, value, `out of range: must be ${range}`);
    }
    return ms;
  }

  /** Bytes, from `1024`, `512Ki`, `4Mi`, `1MB`, `2G` (units case-insensitive; `K`/`M`/`G` decimal, `Ki`/`Mi`/`Gi` binary). */
  bytesSize(name: string): number | undefined;
  bytesSize(name: string, fallback: number): number;
  bytesSize(name: string, fallback?: number): number | undefined {
    const value = this.text(name);
    if (value === undefined) return fallback;
    const match = /^(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(value);
    const unit = match ? BYTE_UNITS[(match[2] ?? '').toLowerCase()] : undefined;
    if (!match || unit === undefined) throw this.bad(name, value, 'not a size; use bytes, or a unit such as 512Ki, 4Mi, 1MB or 2Gi');
    return Math.floor(Number(match[1]) * unit);
  }

  /** One of `allowed` (matched case-insensitively, returned as spelled in `allowed`). */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined;
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T;
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T | undefined {
    const value = this.text(name);
    if (value === undefined) return fallback;
    const found = allowed.find((option) => option.toLowerCase() === value.toLowerCase());
    if (found === undefined) throw this.bad(name, value, `not one of ${allowed.join(', ')}`);
    return found;
  }

  /** Declares fields this component knows but did not need for this configuration (not reported as unknown). */
  known(...names: string[]): void {
    for (const name of names) this.remember(name);
  }

  /** A ConfigError about `spec.metadata.<name>`, for a component's own checks. */
  error(name: string, message: string): ConfigError {
    return new ConfigError(message, this.fieldContext(name));
  }

  /** Keys present in the metadata that no accessor asked for, nor `extraKnown`, nor {@link RUNTIME_METADATA_KEYS}. */
  unknownKeys(extraKnown: readonly string[] = []): string[] {
    const known = new Set([...this.asked.keys(), ...[...RUNTIME_METADATA_KEYS, ...extraKnown].map((k) => k.toLowerCase())]);
    return [...this.entries.entries()].filter(([lower]) => !known.has(lower)).map(([, entry]) => entry.key);
  }

  /** {@link unknownKeys} with the closest known key by edit distance and a message to log. */
  unknownKeyWarnings(extraKnown: readonly string[] = []): UnknownKey[] {
    const candidates = [...this.asked.values(), ...extraKnown];
    return this.unknownKeys(extraKnown).map((key) => {
      const suggestion = closestName(key, candidates);
      const hint = suggestion ? `; did you mean ${suggestion}?` : '';
      return { key, suggestion, message: `spec.metadata.${key} is not used by ${this.context.type} (ignored)${hint}` };
    });
  }

  private lookup(name: string): { readonly key: string; readonly value: string } | undefined {
    this.remember(name);
    const entry = this.entries.get(name.toLowerCase());
    return entry === undefined || entry.value.trim() === '' ? undefined : entry;
  }

  private remember(name: string): void {
    const lower = name.toLowerCase();
    if (!this.asked.has(lower)) this.asked.set(lower, name);
  }

  private checkBounds(name: string, value: string, n: number, bounds: IntBounds): void {
    if ((bounds.min !== undefined && n < bounds.min) || (bounds.max !== undefined && n > bounds.max)) {
      throw this.bad(name, value, `out of range: must be an integer${describeBounds(bounds)}`);
    }
  }

  private bad(name: string, value: string, why: string): ConfigError {
    return this.error(name, `"${value}" is ${why}`);
  }

  /** The field as the user spelled it when given, else as the component names it. */
  private fieldContext(name: string): { file: string; component: string; field: string } {
    const key = this.entries.get(name.toLowerCase())?.key ?? name;
    return { file: this.context.source, component: this.context.component, field: `spec.metadata.${key}` };
  }
}

/** Builds a ComponentInit with its MetadataReader over `fields.metadata` (the component manager and tests use it). */
export function componentInit(fields: Omit<ComponentInit, 'meta'>): ComponentInit {
  return { ...fields, meta: new MetadataReader(fields.metadata, { component: fields.name, type: fields.type, source: fields.source }) };
}

/** The candidate closest to `key` (case-insensitive edit distance, transpositions count one), if close enough to be a typo. */
export function closestName(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, at(i - 2, j - 2) + 1);
      row[j] = d;
    }
  }
  return at(a.length, b.length);
}

function describeBounds({ min, max }: IntBounds): string {
  if (min !== undefined && max !== undefined) return ` between ${min} and ${max}`;
  if (min !== undefined) return ` >= ${min}`;
  if (max !== undefined) return ` <= ${max}`;
  return '';
}
