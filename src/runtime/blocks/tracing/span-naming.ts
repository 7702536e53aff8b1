import type { CallInfo } from '../../../spi/interceptor';

/**
 * How each intercepted call becomes a span, named and attributed as daprd names its own
 * (dapr/dapr pkg/diagnostics: `consts.go`, `http_tracing.go`, the gRPC API's `AppendSpanAttributes`):
 *
 * - `api` (a Dapr HTTP API request): daprd's HTTP server span, named by the request path
 *   (`/v1.0/state/statestore/order`), or `CallLocal/{appId}/{method}` for service invocation; `dapr.api`
 *   (`GET /v1.0/...`), `dapr.protocol` `http`, and `db.*` / `messaging.*` / `rpc.service` by building block.
 * - `component` (an SPI call, from the HTTP API or from `SidekickClient`): named after the Dapr API
 *   method daprd would have served it through (`/dapr.proto.runtime.v1.Dapr/GetState`, also in
 *   `dapr.api`), with the component's name and type (`dapr.component.name`, `dapr.component.type`),
 *   `db.system` = the building block (`state`, `secrets`, `bindings`, `configuration`, `lock`) and
 *   `db.name` = the component, or `messaging.system` `pubsub` (and the topic, set by the publish).
 * The app id is the resource's `service.name` (and `dapr.app_id`), on every span.
 * - `invoke` (an outgoing service invocation): `/dapr.proto.internals.v1.ServiceInvocation/CallLocal`,
 *   as daprd's sidecar-to-sidecar call, with `rpc.service` `ServiceInvocation`, `net.peer.name` = the
 *   target app and `dapr.invoke_method`. None for a call to the app itself that came through the
 *   HTTP API: daprd serves it locally (`invokeLocal`), its API server span the only one.
 * - `delivery`: `pubsub/{topic}` or `bindings/{name}`, as daprd's callback spans.
 *
 * Values are names only: never keys, payloads, metadata values or headers (secrets stay out of spans).
 */

export type SpanRole = 'server' | 'client' | 'consumer' | 'internal';

export interface SpanPlan {
  readonly name: string;
  readonly role: SpanRole;
  readonly attributes: Record<string, string>;
  /**
   * Nothing inside the call reads the active context (a state, secret, binding, configuration or lock
   * component call: no span, log line or header is made under it), so the span is started with its
   * parent given explicitly and no context is entered. A publish is not a leaf: its CloudEvent takes
   * the publish span's `traceparent`, read from the active context inside the component call.
   */
  readonly leaf: boolean;
}

const DAPR_SERVICE = '/dapr.proto.runtime.v1.Dapr/';

/** Component SPI method → daprd's gRPC API method. Calls that only set a consumer up (`subscribe`, `read`) get no span. */
const API_METHODS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  state: { get: 'GetState', bulkGet: 'GetBulkState', set: 'SaveState', delete: 'DeleteState', transact: 'ExecuteStateTransaction' },
  pubsub: { publish: 'PublishEvent', bulkPublish: 'BulkPublishEventAlpha1' },
  bindings: { invoke: 'InvokeBinding' },
  secretstores: { getSecret: 'GetSecret', bulkGetSecret: 'GetBulkSecret' },
  configuration: { get: 'GetConfiguration', subscribe: 'SubscribeConfiguration', unsubscribe: 'UnsubscribeConfiguration' },
  lock: { tryLock: 'TryLockAlpha1', unlock: 'UnlockAlpha1' },
};

/** daprd's `db.system` per building block (`consts.go`: state, secrets, bindings; and the later blocks by their kind). */
const DB_SYSTEM: Readonly<Record<string, string>> = {
  state: 'state',
  secretstores: 'secrets',
  bindings: 'bindings',
  configuration: 'configuration',
  lock: 'lock',
};

/** The component kind of a type (`state.redis` → `state`). */
function kindOf(type: string): string {
  const dot = type.indexOf('.');
  return dot === -1 ? type : type.slice(0, dot);
}

/** The span for a call, or undefined for calls that get none (consumer set-up). Computed once per call site. */
export function planSpan(call: CallInfo): SpanPlan | undefined {
  switch (call.kind) {
    case 'component':
      return componentSpan(call);
    case 'api':
      return apiSpan(call);
    case 'invoke':
      // A self-invocation through the Dapr HTTP API: the API's server span is the call's (daprd serves it locally, no internal call).
      if (call.attributes?.['local'] === 'api') return undefined;
      return {
        name: '/dapr.proto.internals.v1.ServiceInvocation/CallLocal',
        role: 'client',
        attributes: {
          'rpc.service': 'ServiceInvocation',
          'net.peer.name': call.target,
          'dapr.invoke_method': call.operation,
          'http.request.method': call.attributes?.['verb'] ?? 'POST',
        },
        leaf: false,
      };
    case 'delivery':
      return deliverySpan(call);
  }
}

function componentSpan(call: CallInfo): SpanPlan | undefined {
  const kind = kindOf(call.type);
  const known = API_METHODS[kind];
  if (known && !(call.operation in known)) return undefined; // subscribe / read: set-up, not a call
  const method = known?.[call.operation] ?? `${kind}/${call.operation}`;
  // Few attributes on purpose (each costs at every span): the app id is on the resource, the operation is `dapr.api`.
  const attributes: Record<string, string> = {
    'dapr.api': DAPR_SERVICE + method,
    'dapr.component.name': call.target,
    'dapr.component.type': call.type,
  };
  const db = DB_SYSTEM[kind];
  if (db) {
    attributes['db.system'] = db;
    attributes['db.name'] = call.target;
  }
  if (kind === 'pubsub') attributes['messaging.system'] = 'pubsub';
  return { name: DAPR_SERVICE + method, role: 'client', attributes, leaf: db !== undefined };
}

function apiSpan(call: CallInfo): SpanPlan {
  const path = call.attributes?.['path'] ?? '';
  const space = call.operation.indexOf(' ');
  const method = space === -1 ? call.operation : call.operation.slice(0, space);
  // daprd's own set (http_tracing.go): `dapr.api` already holds the method and path.
  const attributes: Record<string, string> = {
    'dapr.api': `${method} ${path}`,
    'dapr.protocol': 'http',
  };
  // `/v1.0/state/statestore/...` → `state`, `statestore` (daprd's getAPIComponent).
  const [, , group = '', name = ''] = path.split('/', 4);
  let spanName = path;
  switch (group) {
    case 'state':
    case 'secrets':
    case 'bindings':
    case 'configuration':
    case 'lock':
    case 'unlock':
      attributes['db.system'] = group === 'unlock' ? 'lock' : group;
      attributes['db.name'] = decodeSafe(name);
      attributes['db.statement'] = `${method} ${path}`;
      break;
    case 'publish': {
      const [, , , pubsub = '', ...topic] = path.split('/');
      attributes['messaging.system'] = 'pubsub';
      attributes['dapr.component.name'] = decodeSafe(pubsub);
      attributes['messaging.destination.name'] = decodeSafe(topic.join('/'));
      break;
    }
    case 'invoke': {
      // /v1.0/invoke/{appId}/method/{method...}
      const [, , , target = '', , ...rest] = path.split('/');
      const invoked = decodeSafe(rest.join('/'));
      attributes['rpc.service'] = 'ServiceInvocation';
      attributes['net.peer.name'] = decodeSafe(target);
      attributes['dapr.invoke_method'] = invoked;
      spanName = `CallLocal/${decodeSafe(target)}/${invoked}`;
      break;
    }
  }
  return { name: spanName || call.operation, role: 'server', attributes, leaf: false };
}

function deliverySpan(call: CallInfo): SpanPlan {
  const attributes: Record<string, string> = { 'dapr.component.name': call.target, 'dapr.handler': call.operation };
  if (call.type === 'bindings') {
    attributes['db.system'] = 'bindings';
    attributes['db.name'] = call.target;
    return { name: `bindings/${call.target}`, role: 'consumer', attributes, leaf: false };
  }
  const topic = call.attributes?.['topic'] ?? '';
  attributes['messaging.system'] = 'pubsub';
  attributes['messaging.destination.name'] = topic;
  if (call.attributes?.['bulk'] === 'true') attributes['messaging.batch'] = 'true';
  return { name: `pubsub/${topic}`, role: 'consumer', attributes, leaf: false };
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
