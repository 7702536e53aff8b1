import { SecretScopes } from '../../src/runtime/blocks/secrets/secret-scopes';

const scope = (over: Partial<{ defaultAccess: 'allow' | 'deny'; allowedSecrets: string[]; deniedSecrets: string[] }>) => ({
  storeName: 's',
  defaultAccess: over.defaultAccess ?? 'allow',
  allowedSecrets: over.allowedSecrets ?? [],
  deniedSecrets: over.deniedSecrets ?? [],
});

/** daprd's precedence (dapr/pkg/config SecretsScope.IsSecretAllowed), case by case. */
describe('secret scopes', () => {
  it.each([
    ['no scope for the store: allowed', [], 'x', true],
    ['defaultAccess allow', [scope({})], 'x', true],
    ['defaultAccess deny', [scope({ defaultAccess: 'deny' })], 'x', false],
    ['deniedSecrets denies under allow', [scope({ deniedSecrets: ['x'] })], 'x', false],
    ['deniedSecrets does not touch others', [scope({ deniedSecrets: ['x'] })], 'y', true],
    ['allowedSecrets allows under deny', [scope({ defaultAccess: 'deny', allowedSecrets: ['x'] })], 'x', true],
    ['allowedSecrets denies the rest even under allow', [scope({ allowedSecrets: ['x'] })], 'y', false],
    ['allowedSecrets wins over deniedSecrets', [scope({ allowedSecrets: ['x'], deniedSecrets: ['x'] })], 'x', true],
    ['names match case-sensitively', [scope({ defaultAccess: 'deny', allowedSecrets: ['X'] })], 'x', false],
  ])('%s', (_label, scopes, name, allowed) => {
    expect(new SecretScopes(scopes).allows('s', name)).toBe(allowed);
    expect(new SecretScopes(scopes).allows('other-store', name)).toBe(true);
  });

  it('a store listed twice fails, naming it and the field (as daprd refuses it)', () => {
    expect(() => new SecretScopes([scope({}), scope({})], 'config.yaml')).toThrow(
      /config\.yaml: spec\.secrets\.scopes\[1\]\.storeName: "s" storeName is repeated/,
    );
  });
});
