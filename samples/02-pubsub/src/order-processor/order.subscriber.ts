import { Injectable, Logger } from '@nestjs/common';
import { DropEvent, Subscribe, type TopicEvent } from '@sidekick/core';
import { DEAD_LETTER_TOPIC, isOrder, type Order, ORDERS_TOPIC, PUBSUB_NAME } from '../orders';

/** Dapr's quickstart `order-processor`: receives every order published to the `orders` topic. */
@Injectable()
export class OrderSubscriber {
  private readonly logger = new Logger('order-processor');

  /**
   * Returning acknowledges the event. Throwing retries it (3 retries by default) and then moves it to
   * the dead-letter topic. DropEvent moves it there at once, which is what a malformed order gets.
   */
  @Subscribe({ pubsub: PUBSUB_NAME, topic: ORDERS_TOPIC, deadLetterTopic: DEAD_LETTER_TOPIC })
  onOrder(event: TopicEvent<Order>): void {
    if (!isOrder(event.data)) throw new DropEvent(`not an order: ${JSON.stringify(event.data)}`);
    this.logger.log(`Subscriber received: ${JSON.stringify(event.data)}`);
  }
}
