import { Injectable } from '@nestjs/common';
import { SidekickClient } from '@sidekick/core';

/** The table batch writes to, through the `sqldb` output binding (`bindings.postgresql`). */
export const ORDERS_TABLE = 'batch_orders';

export interface OrderRow {
  /** `cron` (a scheduled batch) or `kafka` (a record from the orders-in topic). */
  readonly source: 'cron' | 'kafka';
  /** The batch number of a cron row; null for Kafka rows. */
  readonly batch: number | null;
  readonly orderId: number;
  readonly customer: string | null;
  readonly price: number | null;
}

const COLUMNS = ['source', 'batch', 'order_id', 'customer', 'price'] as const;

/**
 * All SQL goes through the output binding, as in Dapr: `invokeBinding('sqldb', 'exec', undefined,
 * { sql, params })`, where params is a JSON array bound to $1..$n (never spliced into the SQL).
 */
@Injectable()
export class OrdersTable {
  private created?: Promise<void>;

  constructor(private readonly sidekick: SidekickClient) {}

  /** CREATE TABLE IF NOT EXISTS, once per process (again after a failure). */
  ensureCreated(): Promise<void> {
    this.created ??= this.exec(
      `CREATE TABLE IF NOT EXISTS ${ORDERS_TABLE} (
         id         bigserial   PRIMARY KEY,
         source     text        NOT NULL,
         batch      integer,
         order_id   integer     NOT NULL,
         customer   text,
         price      numeric(10, 2),
         created_at timestamptz NOT NULL DEFAULT now()
       )`,
      [],
    ).then(
      () => undefined,
      (err: unknown) => {
        this.created = undefined;
        throw err;
      },
    );
    return this.created;
  }

  /** Inserts the rows in one INSERT statement: all of them or none. Returns the rows affected. */
  async insert(rows: readonly OrderRow[]): Promise<number> {
    await this.ensureCreated();
    const params: unknown[] = [];
    const tuples = rows.map((row) => {
      params.push(row.source, row.batch, row.orderId, row.customer, row.price);
      const first = params.length - COLUMNS.length + 1;
      return `(${COLUMNS.map((_, i) => `$${first + i}`).join(', ')})`;
    });
    const response = await this.exec(`INSERT INTO ${ORDERS_TABLE} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, params);
    return Number(response.metadata?.['rows-affected'] ?? rows.length);
  }

  private exec(sql: string, params: readonly unknown[]) {
    return this.sidekick.invokeBinding('sqldb', 'exec', undefined, { sql, params: JSON.stringify(params) });
  }
}
