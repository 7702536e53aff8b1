import 'reflect-metadata';
import { BadRequestException, Body, Controller, Get, Logger, Module, NotFoundException, Param, ParseIntPipe, Post } from '@nestjs/common';
import { SidekickClient, SidekickModule } from '@sidekick/core';
import { exitOnError, sidekickOptions, startApp } from './bootstrap';
import { isOrder, type Order, ORDERS_TOPIC, PUBSUB_NAME, STATE_STORE } from './orders';

/**
 * App id `checkout`: `POST /orders {"orderId": 1}` keeps the order and publishes it. With tracing on,
 * the request is one trace: this route's server span, the state save, the publish, and (in
 * order-processor) the delivery and what its handler does.
 */
@Controller('orders')
class CheckoutController {
  private readonly logger = new Logger('checkout');

  constructor(private readonly sidekick: SidekickClient) {}

  @Post()
  async create(@Body() body: unknown): Promise<Order> {
    if (!isOrder(body)) throw new BadRequestException('expected a body like {"orderId": 1}');
    const order: Order = { orderId: body.orderId };
    await this.sidekick.state<Order>(STATE_STORE).save(`order-${order.orderId}`, order);
    await this.sidekick.publish(PUBSUB_NAME, ORDERS_TOPIC, order);
    // In JSON logs (SIDEKICK_LOG_FORMAT=json) this line carries the trace's trace_id and span_id.
    this.logger.log(`Published order ${order.orderId}`);
    return order;
  }

  @Get(':id')
  async get(@Param('id', ParseIntPipe) id: number): Promise<Order> {
    const order = await this.sidekick.state<Order>(STATE_STORE).get(`order-${id}`);
    if (!order) throw new NotFoundException(`no order ${id}`);
    return order;
  }
}

@Module({
  imports: [SidekickModule.forRoot(sidekickOptions('checkout', 3500))],
  controllers: [CheckoutController],
})
class CheckoutAppModule {}

startApp(CheckoutAppModule, 'checkout', 5001).catch(exitOnError);
