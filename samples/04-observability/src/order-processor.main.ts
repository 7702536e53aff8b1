import 'reflect-metadata';
import { Injectable, Logger, Module } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { SidekickClient, SidekickModule, Subscribe, type TopicEvent } from '@sidekick/core';
import { exitOnError, sidekickOptions, startApp } from './bootstrap';
import { type Order, ORDERS_TOPIC, PUBSUB_NAME, STATE_STORE } from './orders';

/** App id `order-processor`: receives each order and marks it processed. */
@Injectable()
class OrderSubscriber {
  private readonly logger = new Logger('order-processor');
  // Your own spans: the OpenTelemetry API's global tracer is Sidekick's when tracing is on (a no-op otherwise).
  private readonly tracer = trace.getTracer('order-processor');

  constructor(private readonly sidekick: SidekickClient) {}

  @Subscribe({ pubsub: PUBSUB_NAME, topic: ORDERS_TOPIC })
  async onOrder(event: TopicEvent<Order>): Promise<void> {
    await this.tracer.startActiveSpan('process-order', async (span) => {
      try {
        span.setAttribute('order.id', event.data.orderId);
        await this.sidekick.state(STATE_STORE).save(`processed-${event.data.orderId}`, { ...event.data, processedAt: new Date().toISOString() });
        this.logger.log(`Processed order ${event.data.orderId}`);
      } finally {
        span.end();
      }
    });
  }
}

@Module({
  imports: [SidekickModule.forRoot(sidekickOptions('order-processor', 3501))],
  providers: [OrderSubscriber],
})
class OrderProcessorAppModule {}

startApp(OrderProcessorAppModule, 'order-processor', 5002).catch(exitOnError);
