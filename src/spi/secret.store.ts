import type { Component } from './component';

/** Request metadata of a secret get (`metadata.*` query parameters: `namespace`, `version_id`, ...). */
export type SecretMetadata = Readonly<Record<string, string>>;

/** A secret store returns a map of values for a secret name (Dapr's `GetSecret`). */
export interface SecretStore extends Component {
  /** `undefined` when the secret does not exist; other failures throw. */
  getSecret(name: string, metadata?: SecretMetadata): Promise<Readonly<Record<string, string>> | undefined>;
  /** Every secret, name to key/value map. */
  bulkGetSecret(metadata?: SecretMetadata): Promise<Readonly<Record<string, Readonly<Record<string, string>>>>>;
}
