import { Module } from '@nestjs/common';
import { OrderSubscriber } from './order.subscriber';

/** The subscribing side: SidekickModule discovers the @Subscribe method at startup. */
@Module({
  providers: [OrderSubscriber],
})
export class OrderProcessorModule {}
