import { Module } from '@nestjs/common';
import { SidekickModule } from '@sidekick/core';
import { BankAccount, InstanceInfo } from './bank-account.actor';

const redisHost = process.env['REDIS_HOST'] ?? '127.0.0.1:6379';

@Module({
  imports: [
    SidekickModule.forRoot({
      appId: process.env['APP_ID'] ?? 'bank',
      // The actor state store: Redis, shared by every instance of the app.
      components: [
        {
          metadata: { name: 'actorstore' },
          spec: {
            type: 'state.redis',
            version: 'v1',
            metadata: [
              { name: 'redisHost', value: redisHost },
              { name: 'actorStateStore', value: 'true' },
            ],
          },
        },
      ],
      // Several instances share the accounts: membership with leases in Redis, calls forwarded to the owner.
      actors: { placement: { enabled: true, leaseMs: Number(process.env['ACTOR_LEASE_MS'] ?? 5000) } },
    }),
  ],
  providers: [InstanceInfo, BankAccount],
})
export class AppModule {}
