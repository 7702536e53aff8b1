import { BadRequestException, Body, Controller, Get, HttpCode, Logger, Post } from '@nestjs/common';
import { type StateClient, StateStore } from '@sidekick/core';

interface Order {
  readonly orderId: number;
}

/** Dapr's hello-kubernetes `nodeapp`: stores the latest order and returns it. */
@Controller()
export class OrderController {
  private readonly logger = new Logger(OrderController.name);

  constructor(@StateStore('statestore') private readonly state: StateClient<Order>) {}

  @Post('neworder')
  @HttpCode(200)
  async newOrder(@Body() body: { data?: Order }): Promise<void> {
    const order = body.data;
    if (!order || typeof order.orderId !== 'number') {
      throw new BadOrder();
    }
    this.logger.log(`Got a new order! Order ID: ${order.orderId}`);
    await this.state.save('order', order);
    this.logger.log(`Successfully persisted state for Order ID: ${order.orderId}`);
  }

  @Get('order')
  async order(): Promise<Order | Record<string, never>> {
    return (await this.state.get('order')) ?? {};
  }
}

class BadOrder extends BadRequestException {
  constructor() {
    super('expected a body like {"data": {"orderId": 42}}');
  }
}
