import { Module } from '@nestjs/common';
import { SidekickModule } from '@sidekick/core';
import { AppController } from './app.controller';
import { FeatureFlags } from './feature-flags.service';
import { ReportJob } from './report.job';
import { APP_ID } from './settings';

@Module({
  imports: [
    SidekickModule.forRoot({
      appId: APP_ID,
      // Unset: ./components (run from samples/07-config-and-lock); from the repository root set
      // SIDEKICK_RESOURCES_PATH=samples/07-config-and-lock/components.
      resourcesPath: process.env['SIDEKICK_RESOURCES_PATH'],
      httpApi: { port: Number(process.env['SIDEKICK_HTTP_PORT'] ?? 3507) },
    }),
  ],
  controllers: [AppController],
  providers: [FeatureFlags, ReportJob],
})
export class AppModule {}
