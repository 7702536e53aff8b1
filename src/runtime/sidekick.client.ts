import { InvokeError } from '../errors/invoke.errors';
import type { BindingsService } from './blocks/bindings/bindings.service';
import { ConfigurationClient } from './blocks/configuration/configuration.client';
import type { ConfigurationService } from './blocks/configuration/configuration.service';
import type { InvokeService } from './blocks/invoke/invoke.service';
import type { BulkPublishResult, PubSubService } from './blocks/pubsub/pubsub.service';
import type { BindingResponse } from '../spi/binding';
import type { InvokeOptions, InvokeResponse } from './blocks/invoke/invoke.types';
import { decodeJsonOrText as decode, encodeJson as encode } from '../spi/codec';
import { LockClient } from './blocks/lock/lock.client';
import type { LockService } from './blocks/lock/lock.service';
import { ActorsClient } from './blocks/actors/actors.client';
import type { ActorsService } from './blocks/actors/actors.service';
import { StateClient } from './blocks/state/state.client';
import type { StateService } from './blocks/state/state.service';
import type { SecretsService, SecretValues } from './blocks/secrets/secrets.service';
import type { WorkflowClient } from './blocks/workflows/workflow.client';

/** The building blocks, programmatically: the same code paths the HTTP API uses. */
export class SidekickClient {
  private readonly clients = new Map<string, StateClient<unknown>>();
  /** The secrets API: `get(store, name, metadata?)`, `getBulk(store, metadata?)`, through the app's secret scopes. */
  readonly secrets: SecretsClient;
  /** Configuration stores: `get(store, keys)` and `subscribe(store, keys)` (an async iterator of changes). */
  readonly configuration: ConfigurationClient;
  /** The distributed lock API: `tryLock`, `unlock`, `withLock`. */
  readonly lock: LockClient;

  constructor(
    private readonly stateService: StateService,
    private readonly invokeService: InvokeService,
    private readonly pubsubService: PubSubService,
    private readonly bindingsService: BindingsService,
    secretsService: SecretsService,
    configurationService: ConfigurationService,
    lockService: LockService,
    /** Durable workflows: schedule, get, waitForCompletion, raiseEvent, suspend, resume, terminate, purge. */
    readonly workflows: WorkflowClient,
    private readonly actorsService?: ActorsService,
  ) {
    this.secrets = new SecretsClient(secretsService);
    this.configuration = new ConfigurationClient(configurationService);
    this.lock = new LockClient(lockService);
  }

  private actorsClient?: ActorsClient;

  /** Virtual actors: `actors.proxy(BankAccount, 'acc-1').deposit(10)` or `actors.invoke(type, id, method, data)`. */
  get actors(): ActorsClient {
    if (!this.actorsService) throw new TypeError('this SidekickClient was built without the actors block');
    this.actorsClient ??= new ActorsClient(this.actorsService);
    return this.actorsClient;
  }

  /**
   * Publishes `data` to a topic, wrapped in a CloudEvent (objects as JSON, strings as text, Buffers as
   * `data_base64`). `contentType: 'application/cloudevents+json'` with an object passes your own
   * CloudEvent through; `metadata: { rawPayload: 'true' }` sends the bytes without an envelope;
   * `ttlInSeconds` and `partitionKey` go in metadata too.
   */
  publish(pubsub: string, topic: string, data: unknown, options: PublishOptions = {}): Promise<void> {
    return this.pubsubService.publish(pubsub, topic, { data, contentType: options.contentType, metadata: options.metadata });
  }

  /** Publishes many events; returns the entries that failed (empty when all were published). */
  bulkPublish(pubsub: string, topic: string, entries: readonly BulkPublishItem[], metadata: Readonly<Record<string, string>> = {}): Promise<BulkPublishResult> {
    return this.pubsubService.bulkPublish(
      pubsub,
      topic,
      entries.map((e, i) => ({ entryId: e.entryId ?? String(i), data: e.data, contentType: e.contentType, metadata: { ...metadata, ...(e.metadata ?? {}) } })),
    );
  }

  /** Calls an output binding (`create`, `get`, `exec`, ...). Objects are sent as JSON, Buffers as bytes. */
  invokeBinding(name: string, operation: string, data?: unknown, metadata: Readonly<Record<string, string>> = {}): Promise<BindingResponse> {
    return this.bindingsService.invoke(name, operation, data, metadata);
  }

  /** A typed client for a state store component. */
  state<T = unknown>(storeName: string): StateClient<T> {
    let client = this.clients.get(storeName);
    if (!client) {
      client = new StateClient<unknown>(this.stateService, storeName);
      this.clients.set(storeName, client);
    }
    return client as StateClient<T>;
  }

  /**
   * Calls `method` on app `appId` (in-process when it is this app). Returns the decoded body
   * (JSON when it parses, else text; `undefined` when empty). A non-2xx answer throws an
   * `InvokeError` carrying the status and body.
   */
  async invoke<R = unknown>(appId: string, method: string, data?: unknown, options: InvokeOptions = {}): Promise<R> {
    const res = await this.invokeRaw(appId, method, data, options);
    if (res.status < 200 || res.status >= 300) {
      throw new InvokeStatusError(appId, method, res);
    }
    return (res.body.length === 0 ? undefined : decode(res.body)) as R;
  }

  /** Like {@link invoke} but returns the target's status, headers and body unchanged. */
  invokeRaw(appId: string, method: string, data?: unknown, options: InvokeOptions = {}): Promise<InvokeResponse> {
    const hasBody = data !== undefined;
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (hasBody && !hasHeader(headers, 'content-type')) {
      headers['content-type'] =
        options.contentType ?? (Buffer.isBuffer(data) ? 'application/octet-stream' : typeof data === 'string' ? 'text/plain' : 'application/json');
    }
    const body = !hasBody ? undefined : typeof data === 'string' ? Buffer.from(data) : encode(data);
    return this.invokeService.invoke(appId, {
      verb: options.httpVerb ?? (hasBody ? 'POST' : 'GET'),
      method,
      query: queryString(options.query),
      headers,
      body,
    });
  }
}

/**
 * `sidekick.secrets`: the secrets building block, the same path as `GET /v1.0/secrets/...`. Errors are
 * `SidekickError`s with daprd's codes: `ERR_SECRET_STORE_NOT_FOUND`, `ERR_PERMISSION_DENIED` (scopes),
 * `ERR_SECRET_GET` (missing secret or store failure), `ERR_SECRET_STORES_NOT_CONFIGURED`.
 */
export class SecretsClient {
  constructor(private readonly service: SecretsService) {}

  /** One secret's key/value map (`{ [name]: value }` for single-valued stores). `metadata` goes to the store (`version_id`, `namespace`). */
  get(store: string, name: string, metadata: Readonly<Record<string, string>> = {}): Promise<SecretValues> {
    return this.service.get(store, name, metadata);
  }

  /** Every secret of the store the scopes allow, name to key/value map. */
  getBulk(store: string, metadata: Readonly<Record<string, string>> = {}): Promise<Record<string, SecretValues>> {
    return this.service.getBulk(store, metadata);
  }
}

export interface PublishOptions {
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface BulkPublishItem {
  /** Defaults to the index in the list. */
  readonly entryId?: string;
  readonly data: unknown;
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The target answered with a non-2xx status. */
export class InvokeStatusError extends InvokeError {
  readonly status: number;
  readonly body: Buffer;

  constructor(appId: string, method: string, res: InvokeResponse) {
    super(appId, `${method} answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`, { retryable: res.status >= 500 });
    this.status = res.status;
    this.body = res.body;
  }
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}

function queryString(query: InvokeOptions['query']): string | undefined {
  if (query === undefined || typeof query === 'string') return query;
  return new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
}
