import type { Component } from './component';

/** A secret store returns a map of values for a secret name (Dapr's `GetSecret`). */
export interface SecretStore extends Component {
  /** `undefined` when the secret does not exist. */
  getSecret(name: string): Promise<Readonly<Record<string, string>> | undefined>;
  /** Every secret, name to key/value map. */
  bulkGetSecret(): Promise<Readonly<Record<string, Readonly<Record<string, string>>>>>;
}
