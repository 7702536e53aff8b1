import type { Redis, RedisOptions } from 'ioredis';
import { ConfigError } from '../../src/errors/config.errors';
import { BackendError, errorMessage } from '../../src/errors/sidekick.error';
import { type Clock, withTimeout } from '../../src/spi/clock';
import type { ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';

/*
 * The connection handling state.redis, pubsub.redis and bindings.redis share: the connection
 * metadata they read alike (redisHost, redisPassword, redisUsername, enableTLS, and redisDB and
 * dialTimeout under each component's own rules), connecting under a deadline, and closing.
 */

/** ioredis `connectTimeout` when `dialTimeout` is not given. */
const DEFAULT_DIAL_MS = 5000;
/** `host:port`, the host optionally in brackets (IPv6). */
const HOST_PORT = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/;

/** Where a ConfigError about `spec.metadata.<field>` points: the file, the component and the field. */
export type FieldContext = (field: string) => { file: string; component: string; field: string };

export function fieldContext(init: ComponentInit): FieldContext {
  return (field) => ({ file: init.source, component: init.name, field: `spec.metadata.${field}` });
}

/** The fields whose rules (and messages) differ between the components, each read by the component. */
export interface RedisFieldReaders {
  /** `redisDB`; undefined when not given (database 0). */
  readonly db: () => number | undefined;
  /** `dialTimeout` in ms; undefined when not given (5 s). */
  readonly dialTimeout: () => number | undefined;
  /** Appended to the `"…" is not host:port` message. */
  readonly hostPortHint?: string;
}

export interface RedisConnectionSettings {
  /** Without `retryStrategy`: {@link connectRedis} sets it. */
  readonly options: RedisOptions;
  /** `host:port`, as error messages name the server. */
  readonly address: string;
}

/**
 * Reads the connection metadata, in this order: redisHost (required), redisDB, dialTimeout, then
 * redisPassword, redisUsername and enableTLS. A bad value is a ConfigError naming the component and field.
 */
export function redisOptionsFromMetadata(init: ComponentInit, context: FieldContext, readers: RedisFieldReaders): RedisConnectionSettings {
  const md = init.metadata;
  const hostPort = md['redisHost']?.trim();
  if (!hostPort) throw new ConfigError('redisHost is required (host:port of the Redis server, e.g. localhost:6379)', context('redisHost'));
  const match = HOST_PORT.exec(hostPort);
  if (!match) throw new ConfigError(`"${hostPort}" is not host:port${readers.hostPortHint ?? ''}`, context('redisHost'));
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  const options: RedisOptions = {
    host,
    port,
    db: readers.db() ?? 0,
    connectionName: `sidekick-${init.appId}`,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: readers.dialTimeout() ?? DEFAULT_DIAL_MS,
    // How long a closed connection's socket may linger before it is destroyed (ioredis default 2 s,
    // which keeps a process alive after a failed init).
    disconnectTimeout: 500,
  };
  if (md['redisPassword']) options.password = md['redisPassword'];
  if (md['redisUsername']) options.username = md['redisUsername'];
  const tls = md['enableTLS']?.trim().toLowerCase();
  if (tls === 'true') options.tls = {};
  else if (tls !== undefined && tls !== '' && tls !== 'false') {
    throw new ConfigError(`"${md['enableTLS']}" is not true or false`, context('enableTLS'));
  }
  return { options, address: `${host}:${port}` };
}

export interface ConnectRedisOptions {
  /** `host:port`, named by the errors. */
  readonly address: string;
  /** The deadline is kept on this clock. */
  readonly clock: Clock;
  readonly logger: SidekickLogger;
  /** The component's name, for the BackendError. */
  readonly name: string;
  /**
   * Whether a dropped connection is re-established (backing off 100 ms per attempt, at most 2 s).
   * Never while connecting: it must hold only once the caller took the client, so that a failed
   * connect leaves no reconnect loop behind.
   */
  readonly reconnectWhile: () => boolean;
  /** Where connection errors go once connected; by default a warning naming the address. */
  readonly onError?: (err: unknown) => void;
}

/**
 * Connects and PINGs within the dial timeout + 1 s (on `clock`). A failure is a BackendError
 * `redis at host:port is unreachable: <the last connection error, or the timeout>`, the client dropped.
 */
export async function connectRedis(options: RedisOptions, connection: ConnectRedisOptions): Promise<Redis> {
  const { address, clock, logger, name, reconnectWhile } = connection;
  // Loaded on first use: an app without a Redis component never pays for ioredis (about 85 ms and 10 MB).
  const { default: IORedis } = await import('ioredis');
  const client = new IORedis({
    ...options,
    retryStrategy: (attempt: number) => (reconnectWhile() ? Math.min(attempt * 100, 2000) : null),
  });
  let lastError: unknown;
  const onInitError = (err: unknown): void => {
    lastError = err;
  };
  client.on('error', onInitError);
  try {
    await withTimeout(clock, (options.connectTimeout ?? DEFAULT_DIAL_MS) + 1000, async () => {
      await client.connect();
      await client.ping();
    });
  } catch (err) {
    // No reconnect loop was started (see reconnectWhile); only a connection still in progress needs closing.
    if (client.status !== 'end') client.disconnect();
    throw new BackendError(name, `redis at ${address} is unreachable: ${errorMessage(lastError ?? err)}`, lastError ?? err);
  } finally {
    client.off('error', onInitError);
  }
  client.on('error', connection.onError ?? ((err: unknown) => logger.warn({ err, address }, `redis connection error: ${errorMessage(err)}`)));
  return client;
}

/** QUITs, or drops the connection when QUIT fails. */
export async function quitRedis(client: Redis, logger: SidekickLogger): Promise<void> {
  try {
    await client.quit();
  } catch (err) {
    logger.debug({ err }, `redis QUIT failed (${errorMessage(err)}); dropping the connection instead`);
    client.disconnect();
  }
}
