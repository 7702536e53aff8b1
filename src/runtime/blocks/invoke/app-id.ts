/**
 * Dapr app ids: letters, digits, `.`, `_` and `-`, starting with a letter or digit, at most 253
 * characters (a DNS name's length, as Kubernetes app ids are). This excludes `.`, `..`, path
 * separators and anything that could name another folder of the local registry.
 */
const APP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

export function isValidAppId(id: string): boolean {
  return APP_ID.test(id);
}

export const APP_ID_RULE = 'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 253 characters';
