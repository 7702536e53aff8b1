import { Injectable, Logger } from '@nestjs/common';
import { SidekickClient } from '@sidekick/core';
import { type Order, ORDERS_TOPIC, PUBSUB_NAME } from '../orders';

/** Dapr's quickstart `checkout`: publishes orders 1..count to the `orders` topic. */
@Injectable()
export class CheckoutService {
  private readonly logger = new Logger('checkout');

  constructor(private readonly sidekick: SidekickClient) {}

  /** Publishes `{orderId: 1}` ... `{orderId: count}`, waiting `intervalMs` after each one. */
  async publishOrders(count: number, intervalMs: number): Promise<void> {
    for (let orderId = 1; orderId <= count; orderId++) {
      const order: Order = { orderId };
      // Wrapped in a CloudEvent and published through the orderpubsub component, in-process.
      await this.sidekick.publish(PUBSUB_NAME, ORDERS_TOPIC, order);
      this.logger.log(`Published data: ${JSON.stringify(order)}`);
      if (orderId < count) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
