/**
 * The field names of a request body, as a shape: `null` for a leaf, a nested shape for an object
 * (applied to each element when the value is an array).
 */
export interface FieldShape {
  readonly [field: string]: FieldShape | null;
}

/**
 * Renames keys that match a known field except for case to the field's own spelling, as Go's
 * encoding/json decodes daprd's request bodies (an exact match wins; other keys are left as they
 * are). `@dapr/dapr` sends `entryID` where daprd's struct says `entryId`, for example.
 */
export function foldFieldNames(value: unknown, shape: FieldShape): unknown {
  if (Array.isArray(value)) return value.map((item) => foldFieldNames(item, shape));
  if (typeof value !== 'object' || value === null) return value;
  const byLower = new Map<string, string>();
  for (const name of Object.keys(shape)) byLower.set(name.toLowerCase(), name);
  const input = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(input)) {
    const canonical = key in shape ? key : byLower.get(key.toLowerCase());
    if (canonical === undefined) {
      out[key] = item;
      continue;
    }
    if (canonical !== key && canonical in input) continue; // the exact spelling is present: it wins
    const nested = shape[canonical];
    out[canonical] = nested ? foldFieldNames(item, nested) : item;
  }
  return out;
}
