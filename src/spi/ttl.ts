/**
 * The largest `ttlInSeconds` accepted (2^31 - 1 s, about 68 years): every store and broker can hold
 * the resulting expiry, and a date computed from it is always valid.
 */
export const MAX_TTL_SECONDS = 2_147_483_647;

/**
 * Dapr's `ttlInSeconds` metadata, the same rule for state and for publish: an integer from -1 (no
 * expiry) to {@link MAX_TTL_SECONDS}; `0` means none given.
 */
export function parseTtlSeconds(value: string): { ok: true; seconds: number | undefined } | { ok: false; reason: string } {
  if (!/^-?\d{1,10}$/.test(value.trim())) return { ok: false, reason: `metadata ttlInSeconds "${value.slice(0, 40)}" must be an integer of -1 or more` };
  const ttl = Number(value);
  if (ttl < -1) return { ok: false, reason: `metadata ttlInSeconds "${value}" must be an integer of -1 or more` };
  if (ttl > MAX_TTL_SECONDS) return { ok: false, reason: `metadata ttlInSeconds "${value}" is larger than the maximum of ${MAX_TTL_SECONDS}` };
  return { ok: true, seconds: ttl === 0 ? undefined : ttl };
}
