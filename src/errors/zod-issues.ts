/** The part of a zod issue the formatter reads (zod 4's `$ZodIssue`). */
export interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
}

/**
 * One format for schema errors everywhere (YAML files and HTTP bodies): `spec.metadata[0].name:
 * message; ...`, `(document)` for the root. `allowed(path)` may name the fields allowed where an
 * unknown key was found.
 */
export function formatIssues(issues: readonly SchemaIssue[], allowed?: (path: string) => string | undefined): string {
  return issues
    .map((issue) => {
      const path = issue.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('')
        .replace(/^\./, '');
      const known = issue.code === 'unrecognized_keys' ? allowed?.(path) : undefined;
      return `${path || '(document)'}: ${issue.message}${known ? ` (allowed: ${known})` : ''}`;
    })
    .join('; ');
}
