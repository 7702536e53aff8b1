import { Module } from '@nestjs/common';
import { SidekickModule } from '@sidekick/core';
import { BankAccount, InstanceInfo } from './bank-account.actor';

/**
 * REDIS_HOST set (`REDIS_HOST=127.0.0.1:6379`): the actor store is Redis, shared by every instance
 * of the app, and placement spreads the accounts over the instances. Unset: the embedded SQLite
 * `statestore` (in SIDEKICK_DATA_DIR, default ./.sidekick) holds the accounts of this one instance.
 */
const redisHost = process.env['REDIS_HOST'];

@Module({
  imports: [
    SidekickModule.forRoot({
      appId: process.env['APP_ID'] ?? 'bank',
      components: redisHost
        ? [
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
          ]
        : [],
      // Several instances share the accounts: membership with leases in Redis, calls forwarded to the owner.
      actors: { placement: { enabled: redisHost !== undefined, leaseMs: Number(process.env['ACTOR_LEASE_MS'] ?? 5000) } },
    }),
  ],
  providers: [InstanceInfo, BankAccount],
})
export class AppModule {}
