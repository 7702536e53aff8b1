import 'reflect-metadata';
import { Logger, Module } from '@nestjs/common';
import { SidekickModule } from '@sidekick/core';
import { envInt, exitOnError, startApp } from './bootstrap';
import { CheckoutModule } from './checkout/checkout.module';
import { CheckoutService } from './checkout/checkout.service';
import { OrderProcessorModule } from './order-processor/order-processor.module';
import { sidekickOptions } from './sidekick.options';

/**
 * checkout and order-processor as ONE Nest app with ONE app id, `pubsub-all-in-one`: the only way
 * to use `pubsub.in-memory`, whose topics live inside a single component instance. (Two Nest apps in
 * one Node process would not do: each SidekickModule creates its own components.) It publishes the
 * orders, then stays subscribed until SIGTERM / Ctrl-C. It works with the Redis and Kafka folders too.
 */
@Module({
  imports: [SidekickModule.forRootAsync({ useFactory: () => sidekickOptions('pubsub-all-in-one', 3500) }), CheckoutModule, OrderProcessorModule],
})
class AllInOneAppModule {}

async function main(): Promise<void> {
  const count = envInt('ORDER_COUNT', 10);
  const intervalMs = envInt('ORDER_INTERVAL_MS', 1000);
  // Subscriptions start before the app listens, so no order is published before it can be received.
  const app = await startApp(AllInOneAppModule, 'pubsub-all-in-one', 5000);
  await app.get(CheckoutService).publishOrders(count, intervalMs);
  new Logger('checkout').log(`Published all ${count} orders; still subscribed (Ctrl-C to stop)`);
}

main().catch(exitOnError);
