import type { Redis, RedisOptions } from 'ioredis';
import { BackendError, errorMessage } from '../../src/errors/sidekick.error';
import { type Clock, withDeadline } from '../../src/spi/clock';
import type { ComponentInit } from '../../src/spi/component';
import type { SidekickLogger } from '../../src/spi/logger';

/*
 * The connection handling state.redis, pubsub.redis and bindings.redis share: the connection
 * metadata they read alike (redisHost, redisDB, dialTimeout, redisPassword, redisUsername,
 * enableTLS), connecting under a deadline, and closing.
 */

/** ioredis `connectTimeout` when `dialTimeout` is not given. */
const DEFAULT_DIAL_MS = 5000;
/** `host:port`, the host optionally in brackets (IPv6). */
const HOST_PORT = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/;

/**
 * How every Redis component reads its durations: Dapr's Redis components decode their settings
 * with dapr/kit's `config.Decode`, where a bare integer is MILLISECONDS (dapr/docs#4048), unlike the
 * seconds of the generic metadata decoder. One rule for the three components.
 */
export const REDIS_DURATION = { bareNumber: 'milliseconds', min: 0 } as const;

export interface RedisConnectionSettings {
  /** Without `retryStrategy`: {@link connectRedis} sets it. */
  readonly options: RedisOptions;
  /** `host:port`, as error messages name the server. */
  readonly address: string;
}

/**
 * Reads the connection metadata: redisHost (required, `host:port`), redisDB, dialTimeout,
 * redisPassword, redisUsername and enableTLS. A bad value is a ConfigError naming the component and field.
 */
export function redisOptionsFromMetadata(init: ComponentInit): RedisConnectionSettings {
  const meta = init.meta;
  const hostPort = meta.required('redisHost', 'host:port of the Redis server, e.g. localhost:6379');
  const match = HOST_PORT.exec(hostPort);
  if (!match) throw meta.error('redisHost', `"${hostPort}" is not host:port (e.g. localhost:6379)`);
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  const options: RedisOptions = {
    host,
    port,
    db: meta.int('redisDB', 0, { min: 0 }),
    connectionName: `sidekick-${init.appId}`,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: meta.duration('dialTimeout', DEFAULT_DIAL_MS, REDIS_DURATION),
    // How long a closed connection's socket may linger before it is destroyed (ioredis default 2 s,
    // which keeps a process alive after a failed init).
    disconnectTimeout: 500,
  };
  const password = meta.raw('redisPassword');
  if (password !== undefined) options.password = password;
  const username = meta.raw('redisUsername');
  if (username !== undefined) options.username = username;
  if (meta.bool('enableTLS', false)) options.tls = {};
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
  const { address, logger, name, reconnectWhile } = connection;
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
    // An operational deadline: real time, so a virtual clock in a test never stretches or fires it.
    await withDeadline((options.connectTimeout ?? DEFAULT_DIAL_MS) + 1000, async () => {
      await client.connect();
      await client.ping();
    });
  } catch (err) {
    // No reconnect loop was started (see reconnectWhile); only a connection still in progress needs closing.
    if (client.status !== 'end') client.disconnect();
    const reason = errorMessage(lastError ?? err);
    if (/NOAUTH|WRONGPASS|invalid (username-)?password|AUTH failed|ERR AUTH/i.test(reason)) {
      throw new BackendError(
        name,
        `redis at ${address} refused the credentials: authentication failed (${reason}); check redisUsername / redisPassword`,
        lastError ?? err,
      );
    }
    throw new BackendError(name, `redis at ${address} is unreachable: ${reason}`, lastError ?? err);
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
