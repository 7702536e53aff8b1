/** What checkout publishes and order-processor receives, as in Dapr's quickstart. */
export interface Order {
  readonly orderId: number;
}

export function isOrder(value: unknown): value is Order {
  return typeof value === 'object' && value !== null && typeof (value as { orderId?: unknown }).orderId === 'number';
}

/** The pub/sub component both apps use: `metadata.name` in every file under components/. */
export const PUBSUB_NAME = 'orderpubsub';

/** The topic (default `orders`). `ORDERS_TOPIC` overrides it; both apps must see the same value. */
export const ORDERS_TOPIC = process.env['ORDERS_TOPIC'] || 'orders';

/** Where order-processor's rejected events go (`orders-dead` by default). */
export const DEAD_LETTER_TOPIC = `${ORDERS_TOPIC}-dead`;
