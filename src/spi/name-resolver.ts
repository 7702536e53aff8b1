/** Where an app's HTTP routes are served. */
export interface AppAddress {
  readonly appId: string;
  /** Base URL of the app's own HTTP server, e.g. `http://127.0.0.1:3001`. */
  readonly baseUrl: string;
}

/** Finds other apps by id (Dapr's name resolution building block). */
export interface NameResolver {
  readonly name: string;
  /** `undefined` when this resolver does not know the app; the next resolver is asked. */
  resolve(appId: string): Promise<AppAddress | undefined>;
}
