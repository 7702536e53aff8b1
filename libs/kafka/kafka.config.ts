import type { ConnectionOptions } from 'node:tls';
import type { KafkaConfig, LogEntry, logLevel, SASLOptions } from 'kafkajs';
import type { ConfigError } from '../../src/errors/config.errors';
import type { ComponentInit } from '../../src/spi/component';
import type { MetadataReader } from '../../src/spi/metadata-reader';
import type { SidekickLogger } from '../../src/spi/logger';

/*
 * Component metadata shared by `pubsub.kafka` and `bindings.kafka`, with Dapr's names (read through
 * the component's MetadataReader: case-insensitive, so `clientID` and `clientId` are one field),
 * turned into kafkajs options.
 */

export type InitialOffset = 'newest' | 'oldest';
export type AuthType = 'none' | 'password' | 'mtls' | 'oidc' | 'certificate';

export interface KafkaSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** `consumerGroup` metadata: overrides the group a subscription asks for. */
  readonly consumerGroup?: string;
  readonly initialOffset: InitialOffset;
  readonly authType: AuthType;
  /** Delay before a rejected message is delivered again (`consumeRetryInterval`). */
  readonly retryIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly sessionTimeoutMs: number;
  /** Producer-side limit on one record (`maxMessageBytes`); unset = the broker's limit only. */
  readonly maxMessageBytes?: number;
  readonly sasl?: SASLOptions;
  readonly ssl?: boolean | ConnectionOptions;
}

export const DEFAULT_RETRY_INTERVAL_MS = 100;
const DEFAULT_HEARTBEAT_MS = 3000; // Dapr's defaults
const DEFAULT_SESSION_MS = 10_000;
const CONNECTION_TIMEOUT_MS = 3000;
const REQUEST_TIMEOUT_MS = 15_000;
const AUTH_TYPES: readonly AuthType[] = ['none', 'password', 'mtls', 'oidc', 'certificate'];

/**
 * The component's metadata reader, as the Kafka components call it (kafka.binding.ts reads its
 * own fields through it). Every value goes through the component's MetadataReader.
 */
export class KafkaMetadata {
  readonly meta: MetadataReader;

  constructor(init: ComponentInit) {
    this.meta = init.meta;
  }

  /** The trimmed value, or undefined when absent or blank. */
  get(field: string): string | undefined {
    return this.meta.text(field);
  }

  list(field: string): string[] {
    return this.meta.list(field);
  }

  error(field: string, message: string): ConfigError {
    return this.meta.error(field, message);
  }
}

export function parseKafkaSettings(init: ComponentInit): KafkaSettings {
  const md = init.meta;
  md.required('brokers', 'comma-separated host:port of the Kafka brokers, e.g. localhost:9092');
  const brokers = md.list('brokers');
  for (const broker of brokers) {
    if (!/^(?:\[[^\]]+\]|[^:\s]+):\d{1,5}$/.test(broker)) throw md.error('brokers', `"${broker}" is not host:port`);
  }
  const authRequired = md.bool('authRequired', false); // Dapr's deprecated flag
  let authType = md.oneOf('authType', AUTH_TYPES, 'none');
  if (!md.has('authType') && authRequired) authType = 'password';
  // Dapr decodes these with its metadata decoder: a bare number is seconds.
  const heartbeatIntervalMs = md.duration('heartbeatInterval', DEFAULT_HEARTBEAT_MS);
  const sessionTimeoutMs = md.duration('sessionTimeout', DEFAULT_SESSION_MS);
  if (heartbeatIntervalMs <= 0 || heartbeatIntervalMs >= sessionTimeoutMs) {
    throw md.error('heartbeatInterval', `${heartbeatIntervalMs} ms must be above 0 and below sessionTimeout (${sessionTimeoutMs} ms)`);
  }
  const consumerGroup = md.text('consumerGroup');
  const maxMessageBytes = md.int('maxMessageBytes', undefined, { min: 1 });
  const sasl = saslOptions(md, authType);
  const ssl = tlsOptions(md, authType);
  return {
    brokers,
    clientId: md.text('clientId', init.appId),
    ...(consumerGroup !== undefined ? { consumerGroup } : {}),
    initialOffset: md.oneOf('initialOffset', ['newest', 'oldest'] as const, 'newest'),
    authType,
    // Dapr documents this one in milliseconds when bare (components-contrib kafka metadata.go).
    retryIntervalMs: md.duration('consumeRetryInterval', DEFAULT_RETRY_INTERVAL_MS, { bareNumber: 'milliseconds', min: 0 }),
    heartbeatIntervalMs,
    sessionTimeoutMs,
    ...(maxMessageBytes !== undefined ? { maxMessageBytes } : {}),
    ...(sasl ? { sasl } : {}),
    ...(ssl !== undefined ? { ssl } : {}),
  };
}

function saslOptions(md: MetadataReader, authType: AuthType): SASLOptions | undefined {
  if (authType === 'password') {
    const username = md.required('saslUsername', 'authType is password');
    md.required('saslPassword', 'authType is password');
    const password = md.raw('saslPassword') ?? '';
    const mechanism = md.text('saslMechanism', 'PLAINTEXT').toUpperCase();
    if (mechanism === 'SHA-512' || mechanism === 'SCRAM-SHA-512') return { mechanism: 'scram-sha-512', username, password };
    if (mechanism === 'SHA-256' || mechanism === 'SCRAM-SHA-256') return { mechanism: 'scram-sha-256', username, password };
    if (mechanism === 'PLAINTEXT' || mechanism === 'PLAIN') return { mechanism: 'plain', username, password };
    throw md.error('saslMechanism', `"${md.text('saslMechanism')}" is not one of SHA-512, SHA-256, PLAINTEXT`);
  }
  if (authType === 'oidc') {
    const endpoint = md.required('oidcTokenEndpoint', 'authType is oidc');
    const clientId = md.required('oidcClientID', 'authType is oidc');
    const clientSecret = md.required('oidcClientSecret', 'authType is oidc');
    const scopes = md.list('oidcScopes');
    return { mechanism: 'oauthbearer', oauthBearerProvider: oidcTokenProvider(endpoint, clientId, clientSecret, scopes.length ? scopes : ['openid']) };
  }
  return undefined;
}

/** OAuth2 client-credentials tokens for SASL/OAUTHBEARER, cached until a minute before they expire. */
function oidcTokenProvider(endpoint: string, clientId: string, clientSecret: string, scopes: readonly string[]) {
  let cached: { value: string; expiresAt: number } | undefined;
  return async (): Promise<{ value: string }> => {
    if (cached && cached.expiresAt > Date.now()) return { value: cached.value };
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: scopes.join(' ') });
    const response = await fetch(endpoint, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    if (!response.ok) throw new Error(`oidc token endpoint ${endpoint} answered ${response.status}`);
    const token = (await response.json()) as { access_token?: string; expires_in?: number };
    if (!token.access_token) throw new Error(`oidc token endpoint ${endpoint} returned no access_token`);
    cached = { value: token.access_token, expiresAt: Date.now() + Math.max(0, (token.expires_in ?? 300) - 60) * 1000 };
    return { value: cached.value };
  };
}

/** TLS is on for every authType but `none`, unless `disableTls` (as Dapr's Kafka component). */
function tlsOptions(md: MetadataReader, authType: AuthType): boolean | ConnectionOptions | undefined {
  if (authType === 'none' || md.bool('disableTls', false)) return undefined;
  const ca = md.text('caCert');
  const cert = md.text('clientCert');
  const key = md.text('clientKey');
  if (authType === 'mtls') {
    md.required('clientCert', 'authType is mtls');
    md.required('clientKey', 'authType is mtls');
  }
  const options: ConnectionOptions = {
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(md.bool('skipVerify', false) ? { rejectUnauthorized: false } : {}),
  };
  return Object.keys(options).length > 0 ? options : true;
}

/** The kafkajs client options: short connection timeouts, and kafkajs's own log routed to `logger` at warn. */
export function kafkaClientConfig(settings: KafkaSettings, logger: SidekickLogger, levels: typeof logLevel): KafkaConfig {
  return {
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Connecting to a dead address gives up after ~3 s (kafkajs: ~10 s); consumers restart on their own.
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    ...(settings.sasl ? { sasl: settings.sasl } : {}),
    ...(settings.ssl !== undefined ? { ssl: settings.ssl } : {}),
    logLevel: levels.WARN,
    logCreator: () => (entry: LogEntry) => {
      // kafkajs logs retriable trouble (a coordinator moving, a connection dropped) as ERROR: warn is enough.
      const { message, ...fields } = entry.log;
      const detail = typeof fields.error === 'string' ? `: ${fields.error}` : '';
      logger.warn({ kafkajs: entry.namespace, ...fields }, `kafkajs: ${message}${detail}`);
    },
  };
}
