export type HttpVerb = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS';

export type HeaderMap = Record<string, string | string[]>;

/** A call to another app's (or this app's) HTTP route. */
export interface InvokeRequest {
  readonly verb: string;
  /** Path on the target, without a leading slash: `neworder`, `orders/42`. */
  readonly method: string;
  /** Raw query string without `?`. */
  readonly query?: string;
  readonly headers?: Readonly<HeaderMap>;
  readonly body?: Buffer;
  /**
   * A delivery (a pub/sub event) rather than an invocation: behind the sidecar, while the app is
   * unhealthy it waits for the app to recover instead of failing (README, "App health checks").
   */
  readonly delivery?: boolean;
  /**
   * Came in through the Dapr HTTP API, whose server span (`CallLocal/{appId}/{method}`) already stands
   * for the call: a call to this app itself then gets no client span of its own, as daprd serves a
   * self-invocation locally with no internal `ServiceInvocation/CallLocal` call.
   */
  readonly viaApi?: boolean;
}

/** The target's answer, unchanged. */
export interface InvokeResponse {
  readonly status: number;
  readonly headers: HeaderMap;
  readonly body: Buffer;
}

export interface InvokeOptions {
  /** Default POST when data is given, else GET. */
  readonly httpVerb?: HttpVerb;
  readonly headers?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string | number | boolean>> | string;
  readonly contentType?: string;
}
