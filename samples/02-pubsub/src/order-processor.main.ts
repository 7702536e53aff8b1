import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { SidekickModule } from '@sidekick/core';
import { exitOnError, startApp } from './bootstrap';
import { OrderProcessorModule } from './order-processor/order-processor.module';
import { sidekickOptions } from './sidekick.options';

/** App id `order-processor`: subscribed to `orders` until SIGTERM / Ctrl-C. */
@Module({
  imports: [SidekickModule.forRootAsync({ useFactory: () => sidekickOptions('order-processor', 3501) }), OrderProcessorModule],
})
class OrderProcessorAppModule {}

startApp(OrderProcessorAppModule, 'order-processor', 5002).catch(exitOnError);
