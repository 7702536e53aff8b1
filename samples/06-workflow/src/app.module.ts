import { Module } from '@nestjs/common';
import { SidekickModule } from '@sidekick/core';
import { OrderActivities, OrderWorkflow } from './order.workflow';
import { OrdersController } from './orders.controller';

@Module({
  imports: [
    SidekickModule.forRoot({
      appId: 'orders',
      // No components: the history goes to the embedded SQLite state store, in SIDEKICK_DATA_DIR (default ./.sidekick).
      httpApi: { port: Number(process.env['SIDEKICK_HTTP_PORT'] ?? 3506) },
    }),
  ],
  controllers: [OrdersController],
  providers: [OrderActivities, OrderWorkflow],
})
export class AppModule {}
