import { Module } from '@nestjs/common';
import { type InlineComponent, SidekickModule } from '@sidekick/core';
import { BankAccount, InstanceInfo } from './bank-account.actor';

const redisHost = process.env['REDIS_HOST'] ?? '127.0.0.1:6379';

function actorStore(): InlineComponent {
  if (process.env['ACTOR_STORE'] === 'postgres') {
    return {
      metadata: { name: 'actorstore' },
      spec: {
        type: 'state.postgresql',
        version: 'v1',
        metadata: [
          { name: 'connectionString', value: process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
          { name: 'tableName', value: process.env['POSTGRES_TABLE'] ?? 'bank_actors' },
          { name: 'actorStateStore', value: 'true' },
        ],
      },
    };
  }
  return {
    metadata: { name: 'actorstore' },
    spec: {
      type: 'state.redis',
      version: 'v1',
      metadata: [
        { name: 'redisHost', value: redisHost },
        { name: 'actorStateStore', value: 'true' },
      ],
    },
  };
}

@Module({
  imports: [
    SidekickModule.forRoot({
      appId: process.env['APP_ID'] ?? 'bank',
      // The actor state store, shared by every instance of the app: Redis, or PostgreSQL with ACTOR_STORE=postgres.
      components: [actorStore()],
      // Several instances share the accounts: membership with leases in Redis, calls forwarded to the owner.
      actors: { placement: { enabled: true, leaseMs: Number(process.env['ACTOR_LEASE_MS'] ?? 5000) } },
    }),
  ],
  providers: [InstanceInfo, BankAccount],
})
export class AppModule {}
