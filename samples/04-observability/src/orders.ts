/** What checkout takes and publishes, and order-processor receives. */
export interface Order {
  readonly orderId: number;
}

export function isOrder(value: unknown): value is Order {
  return typeof value === 'object' && value !== null && typeof (value as { orderId?: unknown }).orderId === 'number';
}

export const PUBSUB_NAME = 'orderpubsub';
export const STATE_STORE = 'statestore';
/** `ORDERS_TOPIC` overrides it (both apps must see the same value). */
export const ORDERS_TOPIC = process.env['ORDERS_TOPIC'] || 'orders';
