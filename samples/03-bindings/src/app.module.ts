import { Module } from '@nestjs/common';
import { SidekickModule } from '@sidekick/core';
import { BatchService } from './batch.service';
import { OrdersTable } from './orders.table';

@Module({
  imports: [
    SidekickModule.forRoot({
      appId: 'batch',
      // Unset: ./components (run from samples/03-bindings); from the repository root set
      // SIDEKICK_RESOURCES_PATH=samples/03-bindings/components.
      resourcesPath: process.env['SIDEKICK_RESOURCES_PATH'],
      httpApi: { port: Number(process.env['SIDEKICK_HTTP_PORT'] ?? 3502) },
    }),
  ],
  providers: [OrdersTable, BatchService],
})
export class AppModule {}
