import type { Redis, RedisOptions } from 'ioredis';
import { BackendError, SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import type { BindingRequest, BindingResponse, OutputBinding } from '../../src/spi/binding';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';
import { connectRedis, quitRedis, redisOptionsFromMetadata } from './redis.connection';

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
    this.client = await connectRedis(options, {
      address: this.address,
      clock: init.clock,
      logger: this.logger,
      name: this.name,
      reconnectWhile: () => this.connected && !this.closed,
    });
    this.connected = true;
  }

  async close(): Promise<void> {
    const client = this.client;
    if (this.closed || !client) return;
    this.closed = true;
    await quitRedis(client, this.logger);
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

  /** The shared connection fields (see redis.connection.ts). */
  private parseMetadata(init: ComponentInit): RedisOptions {
    const { options, address } = redisOptionsFromMetadata(init);
    this.address = address;
    return options;
  }
}

export const redisBindingFactory: ComponentFactory<RedisBinding> = {
  type: 'bindings.redis',
  kind: 'bindings',
  versions: ['v1'],
  create: () => new RedisBinding(),
};
