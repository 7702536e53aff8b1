/** Metadata field names whose values are secrets (Dapr's: redisPassword, saslPassword, clientKey, token, ...). */
const SECRET_FIELD = /(password|secret|token|credential|apikey|clientkey|privatekey|accesskey)/i;

/** True when a metadata field of this name holds a secret. */
export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name);
}

/**
 * `text` with credentials removed: the password part of URLs (`redis://user:pw@host`), `password=...`
 * pairs of connection strings, and every one of `secrets` (values of secret fields and of
 * `secretKeyRef`s). For error messages and log lines, which must never carry a secret.
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:@/\s"']*):([^@/\s"']+)@/gi, '$1:***@')
    .replace(/\b(password|pwd)(\s*=\s*)('[^']*'|"[^"]*"|[^\s;]+)/gi, '$1$2***');
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 3) out = out.split(secret).join('***');
  }
  return out;
}
