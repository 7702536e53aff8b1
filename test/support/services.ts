import Redis from 'ioredis';
import { Client } from 'pg';

/**
 * Where the backing services of the integration tests live. Tests FAIL (never skip) when a service
 * is missing: `requireRedis()` / `requirePostgres()` throw a message that says how to start them.
 */

export function redisUrl(): string {
  return process.env.SIDEKICK_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export function postgresUrl(): string {
  return process.env.SIDEKICK_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

/** `host:port` of {@link redisUrl}, the form Dapr's `redisHost` metadata takes. */
export function redisHostPort(): string {
  const url = new URL(redisUrl());
  return `${url.hostname}:${url.port || '6379'}`;
}

/** A raw ioredis client on {@link redisUrl} (the caller must `quit()` it). */
export function rawRedis(): Redis {
  return new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
}

let redisCheck: Promise<void> | undefined;
let postgresCheck: Promise<void> | undefined;

/** Resolves when Redis answers PING; rejects with how to start it otherwise. Checked once per test file. */
export function requireRedis(): Promise<void> {
  redisCheck ??= checkRedis();
  return redisCheck;
}

/** Resolves when PostgreSQL answers `SELECT 1`; rejects with how to start it otherwise. */
export function requirePostgres(): Promise<void> {
  postgresCheck ??= checkPostgres();
  return postgresCheck;
}

async function checkRedis(): Promise<void> {
  const client = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  client.on('error', () => undefined); // the failure is reported by connect() below
  try {
    await client.connect();
    await client.ping();
    await client.quit();
  } catch (err) {
    client.disconnect();
    throw new Error(`Redis is not reachable at ${redisUrl()}: run npm run services:up (${reason(err)})`);
  }
}

async function checkPostgres(): Promise<void> {
  const client = new Client({ connectionString: postgresUrl(), connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined); // the failure is reported by connect() below
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${postgresUrl()}: run npm run services:up (${reason(err)})`);
  } finally {
    await client.end().catch((err: unknown) => {
      process.stderr.write(`closing the PostgreSQL probe connection failed: ${reason(err)}\n`);
    });
  }
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `host:port[,host:port]` of the Kafka brokers, the form Dapr's `brokers` metadata takes. */
export function kafkaBrokers(): string {
  return process.env.SIDEKICK_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092';
}

let kafkaCheck: Promise<void> | undefined;

/** Resolves when the Kafka brokers answer a metadata request; rejects with how to start them otherwise. */
export function requireKafka(): Promise<void> {
  kafkaCheck ??= checkKafka();
  return kafkaCheck;
}

async function checkKafka(): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ brokers: kafkaBrokers().split(','), clientId: 'sidekick-test-probe', connectionTimeout: 3000, logLevel: logLevel.NOTHING });
  const admin = kafka.admin({ retry: { retries: 1, initialRetryTime: 200 } });
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (err) {
    throw new Error(`Kafka is not reachable at ${kafkaBrokers()}: run npm run services:up (or bash scripts/services.sh up kafka) (${reason(err)})`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Deletes those of `topics` that exist (test cleanup). */
export async function deleteKafkaTopics(topics: readonly string[]): Promise<void> {
  if (topics.length === 0) return;
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ brokers: kafkaBrokers().split(','), clientId: 'sidekick-test-cleanup', logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const gone = topics.filter((topic) => existing.has(topic));
    if (gone.length > 0) await admin.deleteTopics({ topics: gone, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

/** The Vault-API server of the tests (OpenBao's dev server from `bash scripts/services.sh up vault`). */
export function vaultAddr(): string {
  return process.env.SIDEKICK_TEST_VAULT_ADDR ?? `http://127.0.0.1:${process.env.SIDEKICK_VAULT_PORT ?? '8200'}`;
}

/** Its root token (the dev server's, `SIDEKICK_VAULT_TOKEN` of scripts/services.sh). */
export function vaultToken(): string {
  return process.env.SIDEKICK_TEST_VAULT_TOKEN ?? process.env.SIDEKICK_VAULT_TOKEN ?? 'sidekick-dev-root';
}

let vaultCheck: Promise<void> | undefined;

/** Resolves when the Vault server is unsealed and takes the token; rejects with how to start it otherwise. */
export function requireVault(): Promise<void> {
  vaultCheck ??= checkVault();
  return vaultCheck;
}

async function checkVault(): Promise<void> {
  try {
    const res = await fetch(`${vaultAddr()}/v1/auth/token/lookup-self`, { headers: { 'x-vault-token': vaultToken() }, signal: AbortSignal.timeout(3000) });
    if (res.status !== 200) throw new Error(`token lookup answered ${res.status}`);
  } catch (err) {
    throw new Error(`Vault is not reachable at ${vaultAddr()} with the test token: run bash scripts/services.sh up vault (${reason(err)})`);
  }
}

/** Writes a KV v2 secret (a new version) on the test Vault: `path` is under the engine, e.g. `dapr/db`. */
export async function vaultWrite(path: string, data: Record<string, unknown>, engine = 'secret'): Promise<void> {
  const res = await fetch(`${vaultAddr()}/v1/${engine}/data/${path}`, {
    method: 'POST',
    headers: { 'x-vault-token': vaultToken(), 'content-type': 'application/json' },
    body: JSON.stringify({ data }),
  });
  if (res.status !== 200 && res.status !== 204) throw new Error(`writing Vault secret ${path} answered ${res.status}: ${await res.text()}`);
}

/** Deletes every version and the metadata of a KV v2 secret (test cleanup). */
export async function vaultDestroy(path: string, engine = 'secret'): Promise<void> {
  const res = await fetch(`${vaultAddr()}/v1/${engine}/metadata/${path}`, { method: 'DELETE', headers: { 'x-vault-token': vaultToken() } });
  if (res.status !== 204 && res.status !== 404) throw new Error(`deleting Vault secret ${path} answered ${res.status}`);
}
