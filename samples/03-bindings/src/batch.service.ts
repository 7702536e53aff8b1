import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { Binding, type BindingInput } from '@sidekick/core';
import { type OrderRow, OrdersTable } from './orders.table';

/** The orders of every batch (Dapr's quickstart reads the same three from orders.json). */
export const CUSTOMERS: readonly { readonly customer: string; readonly price: number }[] = [
  { customer: 'John Smith', price: 100.32 },
  { customer: 'Jane Bond', price: 15.4 },
  { customer: 'Tony James', price: 35.56 },
];

/** An order produced to the Kafka topic orders-in: `{"orderId": 7, "customer": "Ann", "price": 9.5}`. */
interface KafkaOrder {
  readonly orderId: number;
  readonly customer?: string;
  readonly price?: number;
}

function isKafkaOrder(value: unknown): value is KafkaOrder {
  if (typeof value !== 'object' || value === null) return false;
  const order = value as Record<string, unknown>;
  return (
    Number.isInteger(order['orderId']) &&
    (order['customer'] === undefined || typeof order['customer'] === 'string') &&
    (order['price'] === undefined || typeof order['price'] === 'number')
  );
}

/** Dapr's bindings quickstart `batch` app, plus a Kafka input binding. */
@Injectable()
export class BatchService implements OnApplicationBootstrap {
  private readonly logger = new Logger('batch');
  private batch = 0;

  constructor(private readonly table: OrdersTable) {}

  /** Create the table at startup (the handlers below also wait for it, whichever runs first). */
  async onApplicationBootstrap(): Promise<void> {
    await this.table.ensureCreated();
    this.logger.log('Table batch_orders is ready');
  }

  /** `bindings.cron` calls this on its schedule (no data; metadata `readTimeUTC`, `timeZone`). */
  @Binding('cron')
  async onTick(input: BindingInput): Promise<void> {
    const batch = ++this.batch;
    const rows: OrderRow[] = CUSTOMERS.map(({ customer, price }, i) => ({ source: 'cron', batch, orderId: batch * 100 + i + 1, customer, price }));
    // A failed insert is logged by the cron binding and not retried; the next tick writes the next batch.
    const inserted = await this.table.insert(rows);
    this.logger.log(`Batch ${batch} (tick ${input.metadata['readTimeUTC'] ?? '?'}): inserted ${inserted} orders ${rows.map((r) => r.orderId).join(', ')}`);
  }

  /**
   * `bindings.kafka` calls this for each record of topic orders-in. Returning commits the record's
   * offset; throwing (e.g. PostgreSQL is down) has the record delivered again. A record that is not
   * an order is logged and skipped, since delivering it again would not make it one.
   */
  @Binding('orders-in')
  async onKafkaOrder(input: BindingInput): Promise<void> {
    const where = `partition ${input.metadata['partition'] ?? '?'} offset ${input.metadata['offset'] ?? '?'}`;
    const order = input.data;
    if (!isKafkaOrder(order)) {
      this.logger.warn(`Skipped a record that is not an order (${where}): ${input.bytes.toString('utf8').slice(0, 200)}`);
      return;
    }
    this.logger.log(`Received from Kafka (${where}): ${JSON.stringify(order)}`);
    await this.table.insert([{ source: 'kafka', batch: null, orderId: order.orderId, customer: order.customer ?? null, price: order.price ?? null }]);
    this.logger.log(`Inserted Kafka order ${order.orderId}`);
  }
}
