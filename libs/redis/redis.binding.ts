import Redis, { type RedisOptions } from 'ioredis';
import { parseDuration } from '../../src/config/duration';
import { ConfigError } from '../../src/errors/config.errors';
import { BackendError, SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import type { BindingRequest, BindingResponse, OutputBinding } from '../../src/spi/binding';
import type { Clock } from '../../src/spi/clock';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';

const DEFAULT_DIAL_MS = 5000;

/**
 * `bindings.redis` (output), as daprd's: plain string keys, the request bytes stored as given.
 * - `create`: `SET key data` (`EX ttlInSeconds` when given);
 * - `get`: the value's bytes, or an empty response when the key is missing;
 * - `delete`: `DEL key`;
 * - `increment`: `INCR key` (then `EXPIRE` when `ttlInSeconds` is given); data is the new value.
 * Every operation takes request metadata `key`. Connection metadata as `state.redis`.
 */
export class RedisBinding implements OutputBinding {
  readonly operations: readonly string[] = ['create', 'get', 'delete', 'increment'];
  private client?: Redis;
  private name = 'redis';
  private address = '';
  private logger!: SidekickLogger;
  private closed = false;
  /** Reconnects only after init succeeded: a failed init must not leave a reconnect loop behind. */
  private connected = false;

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.logger = init.logger;
    const options = this.parseMetadata(init);
    this.client = await this.connect(init.clock, options);
    this.connected = true;
  }

  async close(): Promise<void> {
    const client = this.client;
    if (this.closed || !client) return;
    this.closed = true;
    try {
      await client.quit();
    } catch (err) {
      this.logger.debug({ err }, `redis QUIT failed (${errorMessage(err)}); dropping the connection instead`);
      client.disconnect();
    }
  }

  async ping(): Promise<void> {
    await this.run(async (client) => client.ping());
  }

  async invoke(req: BindingRequest): Promise<BindingResponse> {
    if (!this.operations.includes(req.operation)) {
      throw this.error(`unsupported operation ${req.operation}; supported: ${this.operations.join(', ')}`);
    }
    const key = req.metadata['key'];
    if (!key) throw this.error(`metadata key is required for ${req.operation} (the Redis key to use)`);
    const ttl = req.operation === 'create' || req.operation === 'increment' ? this.ttlOf(req.metadata['ttlInSeconds']) : undefined;
    switch (req.operation) {
      case 'create':
        await this.run((client) => (ttl ? client.set(key, req.data, 'EX', ttl) : client.set(key, req.data)));
        return {};
      case 'get': {
        const data = await this.run((client) => client.getBuffer(key));
        return data === null ? {} : { data };
      }
      case 'delete':
        await this.run((client) => client.del(key));
        return {};
      default: {
        const value = await this.run(async (client) => {
          if (!ttl) return client.incr(key);
          const reply = await client.multi().incr(key).expire(key, ttl).exec();
          const [err, incremented] = reply?.[0] ?? [new Error('transaction was discarded'), null];
          if (err) throw err;
          return incremented as number;
        });
        return { data: Buffer.from(String(value)) };
      }
    }
  }

  private ttlOf(text: string | undefined): number | undefined {
    if (text === undefined || text.trim() === '') return undefined;
    if (!/^-?\d+$/.test(text.trim())) throw this.error(`metadata ttlInSeconds "${text}" is not a whole number of seconds`);
    const ttl = Number(text);
    return ttl > 0 ? ttl : undefined;
  }

  private async run<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    const client = this.client;
    if (!client || this.closed) throw this.error('component is not initialised or is closed');
    try {
      return await fn(client);
    } catch (err) {
      throw new BackendError(this.name, `redis at ${this.address}: ${errorMessage(err)}`, err);
    }
  }

  private error(message: string): SidekickError {
    return new SidekickError('ERR_INVOKE_OUTPUT_BINDING', `redis binding ${this.name}: ${message}`, { component: this.name });
  }

  /** Connects and PINGs within the dial timeout (on `clock`); fails naming the address. */
  private async connect(clock: Clock, options: RedisOptions): Promise<Redis> {
    const client = new Redis(options);
    let lastError: unknown;
    const onInitError = (err: unknown): void => {
      lastError = err;
    };
    client.on('error', onInitError);
    const ms = (options.connectTimeout ?? DEFAULT_DIAL_MS) + 1000;
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    });
    try {
      await Promise.race([client.connect().then(() => client.ping()), timeout]);
    } catch (err) {
      if (client.status !== 'end') client.disconnect();
      throw new BackendError(this.name, `redis at ${this.address} is unreachable: ${errorMessage(lastError ?? err)}`, lastError ?? err);
    } finally {
      if (timer) clock.clearTimeout(timer);
      client.off('error', onInitError);
    }
    client.on('error', (err: unknown) => {
      this.logger.warn({ err, address: this.address }, `redis connection error: ${errorMessage(err)}`);
    });
    return client;
  }

  private parseMetadata(init: ComponentInit): RedisOptions {
    const md = init.metadata;
    const context = (field: string) => ({ file: init.source, component: init.name, field: `spec.metadata.${field}` });
    const hostPort = md['redisHost']?.trim();
    if (!hostPort) throw new ConfigError('redisHost is required (host:port of the Redis server, e.g. localhost:6379)', context('redisHost'));
    const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(hostPort);
    if (!match) throw new ConfigError(`"${hostPort}" is not host:port (e.g. localhost:6379)`, context('redisHost'));
    const host = match[1] ?? match[2] ?? '';
    const port = Number(match[3]);
    this.address = `${host}:${port}`;
    const dbText = md['redisDB']?.trim();
    if (dbText && !/^\d+$/.test(dbText)) throw new ConfigError(`"${dbText}" is not a database number`, context('redisDB'));
    const dial = md['dialTimeout']?.trim();
    const options: RedisOptions = {
      host,
      port,
      db: dbText ? Number(dbText) : 0,
      connectionName: `sidekick-${init.appId}`,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: dial ? parseDuration(dial, context('dialTimeout')) : DEFAULT_DIAL_MS,
      disconnectTimeout: 500,
      retryStrategy: (attempt: number) => (this.connected && !this.closed ? Math.min(attempt * 100, 2000) : null),
    };
    if (md['redisPassword']) options.password = md['redisPassword'];
    if (md['redisUsername']) options.username = md['redisUsername'];
    const tls = md['enableTLS']?.trim().toLowerCase();
    if (tls === 'true') options.tls = {};
    else if (tls !== undefined && tls !== '' && tls !== 'false') throw new ConfigError(`"${md['enableTLS']}" is not true or false`, context('enableTLS'));
    return options;
  }
}

export const redisBindingFactory: ComponentFactory<RedisBinding> = {
  type: 'bindings.redis',
  kind: 'bindings',
  versions: ['v1'],
  create: () => new RedisBinding(),
};
