import { Body, Controller, Get, NotFoundException, Param, Post } from '@nestjs/common';
import { SidekickClient } from '@sidekick/core';
import type { Order } from './order.workflow';

/** The app's own API: place an order (starts the saga), read its state. Approval goes through Dapr's workflow API. */
@Controller('orders')
export class OrdersController {
  constructor(private readonly sidekick: SidekickClient) {}

  @Post()
  async place(@Body() order: Order): Promise<{ instanceId: string }> {
    return { instanceId: await this.sidekick.workflows.schedule('order', { instanceId: order.id, input: order }) };
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<unknown> {
    const state = await this.sidekick.workflows.get(id);
    if (!state) throw new NotFoundException(`no order ${id}`);
    return state;
  }
}
