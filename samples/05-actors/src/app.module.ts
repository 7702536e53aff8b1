import { Module } from '@nestjs/common';
import { type InlineComponent, SidekickModule } from '@sidekick/core';
import { BankAccount, InstanceInfo } from './bank-account.actor';

/**
 * REDIS_HOST set (`REDIS_HOST=127.0.0.1:6379`): the actor store is Redis, shared by every instance
 * of the app, and placement spreads the accounts over the instances; ACTOR_STORE=postgres: the same on
 * PostgreSQL (POSTGRES_URL, POSTGRES_TABLE). Neither: the embedded SQLite `statestore` (in
 * SIDEKICK_DATA_DIR, default ./.sidekick) holds the accounts of this one instance.
 */
const redisHost = process.env['REDIS_HOST'];

const postgres = process.env['ACTOR_STORE'] === 'postgres';

function actorStore(): InlineComponent[] {
  if (postgres) {
    const component: InlineComponent = {
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
    return [component];
  }
  if (redisHost === undefined) return [];
  const component: InlineComponent = {
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
  return [component];
}

@Module({
  imports: [
    SidekickModule.forRoot({
      appId: process.env['APP_ID'] ?? 'bank',
      // The actor state store: shared by every instance of the app (Redis, or PostgreSQL with ACTOR_STORE=postgres),
      // or none (the embedded SQLite `statestore` of this one instance).
      components: actorStore(),
      // Several instances share the accounts: membership with leases in the shared store, calls forwarded to the owner.
      actors: { placement: { enabled: postgres || redisHost !== undefined, leaseMs: Number(process.env['ACTOR_LEASE_MS'] ?? 5000) } },
    }),
  ],
  providers: [InstanceInfo, BankAccount],
})
export class AppModule {}
