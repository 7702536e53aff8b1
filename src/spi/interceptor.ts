/**
 * The one interception seam. Tracing, metrics and resiliency policies are interceptors; the runtime
 * never calls them from building-block code, only from four places:
 *
 * - `component`: every call of a component's SPI method (state `get`/`set`/..., pub/sub `publish`/
 *   `subscribe`, binding `invoke`/`read`, secret `getSecret`/`bulkGetSecret`). The instance is wrapped
 *   once, where components are initialised.
 * - `delivery`: every handler delivery (a pub/sub event to a `@Subscribe` method or a declarative
 *   route, an input-binding event to a `@Binding` method). A pub/sub delivery resolves with its
 *   outcome (`{ status: 'success' }` or `{ status: 'drop', reason }`) and rejects when the event is
 *   to be retried; an interceptor that retries deliveries itself rejects with an error whose
 *   `retryable` is `false` once it gives up, so the subscription does not retry it again.
 * - `api`: every Dapr HTTP API request that matched a route (or the `dapr-app-id` fallback); it
 *   resolves with the HTTP status the request was answered with.
 * - `invoke`: every outgoing service invocation (to this app in-process, or to another app).
 *
 * Contract (after Restate's hooks): `intercept` calls `next()` and returns (or awaits) its result;
 * it may observe the outcome, time it, or call `next()` again after the previous call settled (a
 * retry policy does: each call runs the inner interceptors and the call itself again), but must not
 * swallow an error (rethrow it, or throw another) and must not return without calling `next()`
 * unless it throws (a circuit breaker failing fast). Interceptors run in the order given,
 * the first one outermost. With none installed the runtime takes its plain paths: no wrapper, no
 * extra promise or allocation per call.
 */
export type CallKind = 'component' | 'delivery' | 'api' | 'invoke';

export interface CallInfo {
  readonly kind: CallKind;
  /**
   * What the call is about: the component name (`component`, `delivery`), the route name (`api`,
   * e.g. `state.save`), the target app id (`invoke`).
   */
  readonly target: string;
  /** The component type (`state.redis`), `pubsub`/`bindings` for deliveries, `http` for the API, `app` for invoke. */
  readonly type: string;
  /** The operation: the SPI method (`get`), the handler (`OrderHandler.onOrder`), the HTTP method and path template, the invoked method. */
  readonly operation: string;
  /** Further facts: `topic` (deliveries, publish), `operation` (output bindings), `binding`, `verb`, `path`... */
  readonly attributes?: Readonly<Record<string, string>>;
}

export interface Interceptor {
  /** For logs and errors. */
  readonly name: string;
  /** Only these kinds reach this interceptor (default: all). */
  readonly kinds?: readonly CallKind[];
  intercept<T>(call: CallInfo, next: () => Promise<T>): Promise<T>;
}
