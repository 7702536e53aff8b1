import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { SidekickModule } from '@sidekick/core';
import { envInt, exitOnError, startApp } from './bootstrap';
import { CheckoutModule } from './checkout/checkout.module';
import { CheckoutService } from './checkout/checkout.service';
import { sidekickOptions } from './sidekick.options';

/** App id `checkout`: publishes ORDER_COUNT orders (10), one every ORDER_INTERVAL_MS (1000), then exits. */
@Module({
  imports: [SidekickModule.forRootAsync({ useFactory: () => sidekickOptions('checkout', 3500) }), CheckoutModule],
})
class CheckoutAppModule {}

async function main(): Promise<void> {
  const count = envInt('ORDER_COUNT', 10);
  const intervalMs = envInt('ORDER_INTERVAL_MS', 1000);
  const app = await startApp(CheckoutAppModule, 'checkout', 5001);
  await app.get(CheckoutService).publishOrders(count, intervalMs);
  // Closing drains the Dapr HTTP API and closes the pub/sub connection, so the process ends by itself.
  await app.close();
}

main().catch(exitOnError);
