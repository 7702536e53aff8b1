import { Module } from '@nestjs/common';
import { SidekickModule } from '@sidekick/core';
import { OrderController } from './order.controller';

@Module({
  imports: [
    SidekickModule.forRoot({
      appId: 'nodeapp',
      // Unset: ./components if it exists, else the embedded SQLite default.
      resourcesPath: process.env['SIDEKICK_RESOURCES_PATH'],
    }),
  ],
  controllers: [OrderController],
})
export class AppModule {}
