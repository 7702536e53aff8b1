import type { Client, Notification, Pool, PoolConfig } from 'pg';
import { BackendError, SidekickError, errorMessage } from '../../src/errors/sidekick.error';
import type { ComponentFactory, ComponentInit } from '../../src/spi/component';
import {
  type ConfigurationItem,
  type ConfigurationItems,
  type ConfigurationStore,
  type ConfigurationUnsubscribe,
  type ConfigurationUpdate,
  type ConfigurationUpdateHandler,
  DELETED_ITEM,
  DeliveredItems,
  UpdateSequence,
} from '../../src/spi/configuration.store';
import type { SidekickLogger } from '../../src/spi/logger';
import { isUnreachable, parseConnectionString } from './postgres.connection';

/*
 * configuration.postgresql as daprd documents it: the user creates the table (KEY, VALUE, VERSION,
 * METADATA json) and an AFTER INSERT/UPDATE/DELETE trigger that calls
 * pg_notify(<channel>, json_build_object('table', TG_TABLE_NAME, 'action', TG_OP, 'data', row_to_json(row))).
 * A subscription LISTENs on the channel named by its `pgNotifyChannel` metadata (Sidekick also takes
 * a default from the component's own `pgNotifyChannel`), and delivers the row of each notification
 * whose key it watches. Several rows of one key: the one with the highest numeric version wins, as in daprd.
 *
 * Beyond daprd: one LISTEN connection per component (daprd: one per subscription), re-established
 * after the server restarts or the connection drops, after which every subscription is brought up to
 * date from the table (changes made while the connection was down are delivered, deletions included).
 * A DELETE is delivered as a deletion (daprd delivers the deleted row as if it had been updated).
 */

const TABLE = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;
const DEFAULT_TIMEOUT_MS = 20_000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2_000;

interface Row {
  readonly key: string;
  readonly value: string | null;
  readonly version: string | null;
  readonly metadata: unknown;
}

interface Watch {
  readonly channel: string;
  readonly keys: readonly string[];
  readonly sequence: UpdateSequence;
  readonly delivered: DeliveredItems;
}

/** The SQL daprd's docs give, for this table and channel (printed when the table is missing). */
export function configurationTableSql(table: string, channel = 'config'): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (KEY VARCHAR NOT NULL, VALUE VARCHAR NOT NULL, VERSION VARCHAR NOT NULL, METADATA JSON);`,
    `CREATE OR REPLACE FUNCTION ${table.replace('.', '_')}_notify() RETURNS TRIGGER AS $$ DECLARE data json; BEGIN`,
    `  IF (TG_OP = 'DELETE') THEN data = row_to_json(OLD); ELSE data = row_to_json(NEW); END IF;`,
    `  PERFORM pg_notify('${channel}', json_build_object('table', TG_TABLE_NAME, 'action', TG_OP, 'data', data)::text); RETURN NULL;`,
    `END; $$ LANGUAGE plpgsql;`,
    `CREATE OR REPLACE TRIGGER ${table.replace('.', '_')}_notify AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE PROCEDURE ${table.replace('.', '_')}_notify();`,
  ].join('\n');
}

/** `configuration.postgresql`: items in a table, changes from LISTEN/NOTIFY. */
export class PostgresConfigurationStore implements ConfigurationStore {
  private pool?: Pool;
  private listener?: Client;
  private connecting?: Promise<Client>;
  private poolConfig!: PoolConfig;
  private name = 'postgresql';
  private address = '';
  private table = '';
  private defaultChannel?: string;
  private logger!: SidekickLogger;
  private timeoutMs = DEFAULT_TIMEOUT_MS;
  private closed = false;
  private reconnectAttempt = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private readonly watches = new Set<Watch>();

  async init(init: ComponentInit): Promise<void> {
    this.name = init.name;
    this.logger = init.logger;
    const meta = init.meta;
    const connectionString = meta.required('connectionString', 'e.g. "host=localhost user=postgres port=5432 database=config" or a postgres:// URL');
    const table = meta.required('table', 'the name of the configuration table, lower case');
    if (!TABLE.test(table)) throw meta.error('table', `"${table}" is not a valid table name: lower-case letters, digits and _ (optionally schema.table)`);
    this.table = table;
    this.timeoutMs = meta.duration('timeout', DEFAULT_TIMEOUT_MS, { min: 1 });
    this.defaultChannel = meta.text('pgNotifyChannel');
    const connection = parseConnectionString(connectionString, { file: init.source, component: init.name, field: 'spec.metadata.connectionString' });
    this.address = connection.address;
    this.poolConfig = {
      ...connection.config,
      connectionTimeoutMillis: this.timeoutMs,
      query_timeout: this.timeoutMs,
      application_name: `sidekick-${init.appId}`,
    };
    const { Pool } = await import('pg');
    const pool = new Pool(this.poolConfig);
    pool.on('error', (err) => this.logger.warn({ err, address: this.address }, `idle postgres connection failed: ${errorMessage(err)}`));
    let exists: boolean;
    try {
      const result = await pool.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [table]);
      exists = result.rows[0]?.found === true;
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new BackendError(
        this.name,
        `postgres at ${this.address} ${isUnreachable(err) ? 'is unreachable' : 'failed to initialise'}: ${errorMessage(err)}`,
        err,
      );
    }
    if (!exists) {
      await pool.end().catch(() => undefined);
      throw meta.error(
        'table',
        `postgreSQL configuration table '${table}' does not exist in ${this.address}; create it and its notify trigger (as Dapr's docs do), e.g.:\n${configurationTableSql(table, this.defaultChannel)}`,
      );
    }
    this.pool = pool;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const watch of this.watches) watch.sequence.close();
    this.watches.clear();
    const listener = this.listener ?? (await this.connecting?.catch(() => undefined));
    this.listener = undefined;
    if (listener) await listener.end().catch(() => undefined);
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.end();
  }

  async ping(): Promise<void> {
    await this.requirePool().query('SELECT 1');
  }

  async get(keys: readonly string[]): Promise<ConfigurationItems> {
    const pool = this.requirePool();
    let rows: Row[];
    try {
      const sql = `SELECT key, value, version, metadata FROM ${this.table}${keys.length > 0 ? ' WHERE key = ANY($1)' : ''}`;
      rows = (await pool.query<Row>(sql, keys.length > 0 ? [[...keys]] : [])).rows;
    } catch (err) {
      throw new BackendError(this.name, `postgres at ${this.address}: ${errorMessage(err)}`, err);
    }
    const out: Record<string, ConfigurationItem> = {};
    const best = new Map<string, number>();
    for (const row of rows) {
      const item = toItem(row);
      const version = numericVersion(item.version);
      const held = best.get(row.key);
      if (held === undefined || version > held) {
        out[row.key] = item;
        best.set(row.key, version);
      }
    }
    return out;
  }

  async subscribe(
    keys: readonly string[],
    handler: ConfigurationUpdateHandler,
    metadata: Readonly<Record<string, string>> = {},
  ): Promise<ConfigurationUnsubscribe> {
    if (this.closed) throw new BackendError(this.name, `configuration store ${this.name} is closed`);
    const given = Object.entries(metadata).find(([k]) => k.toLowerCase() === 'pgnotifychannel')?.[1];
    const channel = given || this.defaultChannel;
    if (!channel) {
      throw new SidekickError(
        'ERR_CONFIGURATION_SUBSCRIBE',
        `unable to subscribe to '${this.table}'. pgNotifyChannel attribute cannot be empty (pass metadata pgNotifyChannel, the channel your trigger's pg_notify uses, or set it in the component's metadata)`,
        { component: this.name },
      );
    }
    const watch: Watch = {
      channel,
      keys: [...new Set(keys)],
      sequence: new UpdateSequence(handler, (err) => this.logger.error({ err, component: this.name }, `configuration update failed: ${errorMessage(err)}`)),
      delivered: new DeliveredItems(),
    };
    watch.delivered.prime(await this.get(watch.keys));
    const listening = [...this.watches].some((w) => w.channel === channel);
    this.watches.add(watch);
    try {
      const listener = await this.listenerClient();
      if (!listening) await listener.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (err) {
      this.watches.delete(watch);
      throw new BackendError(this.name, `postgres at ${this.address}: LISTEN ${channel} failed: ${errorMessage(err)}`, err);
    }
    return () => this.unwatch(watch);
  }

  private async unwatch(watch: Watch): Promise<void> {
    watch.sequence.close();
    if (!this.watches.delete(watch) || this.closed) return;
    if ([...this.watches].some((w) => w.channel === watch.channel)) return;
    const listener = this.listener;
    if (!listener) return;
    try {
      await listener.query(`UNLISTEN ${quoteIdent(watch.channel)}`);
    } catch (err) {
      this.logger.debug({ err, component: this.name }, `UNLISTEN failed (the connection drops it anyway): ${errorMessage(err)}`);
    }
  }

  /** The LISTEN connection (one per component), created on the first subscribe. */
  private async listenerClient(): Promise<Client> {
    if (this.listener) return this.listener;
    this.connecting ??= this.connectListener();
    try {
      return await this.connecting;
    } finally {
      this.connecting = undefined;
    }
  }

  private async connectListener(): Promise<Client> {
    const { Client } = await import('pg');
    const client = new Client({ ...this.poolConfig, keepAlive: true });
    let lost = false;
    const onLost = (err?: unknown): void => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.logger.warn(
        { component: this.name, address: this.address, err },
        `configuration LISTEN connection to postgres lost${err ? `: ${errorMessage(err)}` : ''}; reconnecting`,
      );
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (n: Notification) => this.onNotification(n));
    try {
      await client.connect();
    } catch (err) {
      lost = true;
      await client.end().catch(() => undefined);
      throw err;
    }
    this.listener = client;
    return client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = Math.min(RECONNECT_MIN_MS * 2 ** this.reconnectAttempt, RECONNECT_MAX_MS);
    this.reconnectAttempt++;
    // Operational time: a virtual clock in a test must not hold a reconnect back.
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.reconnect().catch((err: unknown) => {
        if (this.closed) return;
        this.logger.debug({ err, component: this.name }, `postgres LISTEN reconnect failed: ${errorMessage(err)}`);
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }

  /** LISTENs again on every channel in use, then brings each subscription up to date from the table. */
  private async reconnect(): Promise<void> {
    if (this.closed || this.watches.size === 0) return;
    const listener = await this.listenerClient();
    for (const channel of new Set([...this.watches].map((w) => w.channel))) await listener.query(`LISTEN ${quoteIdent(channel)}`);
    for (const watch of this.watches) {
      const current = await this.get(watch.keys);
      watch.sequence.push(() => watch.delivered.catchUp(current, watch.keys));
    }
    this.reconnectAttempt = 0;
    this.logger.info({ component: this.name, address: this.address }, 'configuration subscriptions listening again on postgres');
  }

  private onNotification(notification: Notification): void {
    const update = this.parse(notification.payload ?? '');
    if (!update) return;
    const key = Object.keys(update.items)[0] ?? '';
    for (const watch of this.watches) {
      if (watch.channel !== notification.channel || (watch.keys.length > 0 && !watch.keys.includes(key))) continue;
      watch.sequence.push(() => {
        watch.delivered.record(update);
        return update;
      });
    }
  }

  /** daprd's payload: `{table, action, data: {key, value, version, metadata}}` (field names in any case). */
  private parse(payload: string): ConfigurationUpdate | undefined {
    let body: unknown;
    try {
      body = JSON.parse(payload);
    } catch {
      this.logger.warn({ component: this.name }, `configuration notification is not JSON (ignored): ${payload.slice(0, 200)}`);
      return undefined;
    }
    const fields = lowerKeys(body);
    const data = lowerKeys(fields['data']);
    const key = data['key'];
    if (typeof key !== 'string') {
      this.logger.warn({ component: this.name }, `configuration notification has no data.key (ignored): ${payload.slice(0, 200)}`);
      return undefined;
    }
    const table = fields['table'];
    if (typeof table === 'string' && table.toLowerCase() !== this.table.split('.').pop()) return undefined;
    if (String(fields['action']).toUpperCase() === 'DELETE') return { items: { [key]: DELETED_ITEM }, deleted: [key] };
    return { items: { [key]: toItem({ key, value: asText(data['value']), version: asText(data['version']), metadata: data['metadata'] }) }, deleted: [] };
  }

  private requirePool(): Pool {
    if (!this.pool) throw new BackendError(this.name, `configuration store ${this.name} is not initialised or closed`);
    return this.pool;
  }
}

function toItem(row: Row): ConfigurationItem {
  const metadata: Record<string, string> = {};
  if (row.metadata && typeof row.metadata === 'object') {
    for (const [k, v] of Object.entries(row.metadata as Record<string, unknown>)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return { value: row.value ?? '', version: row.version ?? '', metadata };
}

function asText(value: unknown): string | null {
  return value === null || value === undefined ? null : typeof value === 'string' ? value : JSON.stringify(value);
}

/** daprd's rule: a version that is not an integer counts as -1. */
function numericVersion(version: string): number {
  return /^[-+]?\d+$/.test(version) ? Number(version) : -1;
}

function lowerKeys(value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (value && typeof value === 'object' && !Array.isArray(value)) for (const [k, v] of Object.entries(value)) out[k.toLowerCase()] = v;
  return out;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export const postgresConfigurationStoreFactory: ComponentFactory<PostgresConfigurationStore> = {
  type: 'configuration.postgresql',
  kind: 'configuration',
  versions: ['v1'],
  create: () => new PostgresConfigurationStore(),
};
