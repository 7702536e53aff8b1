import { cronBindingFactory } from '../../../libs/cron';
import { httpBindingFactory } from '../../../libs/http';
import { kafkaBindingFactory, kafkaPubSubFactory } from '../../../libs/kafka';
import { localEnvSecretStoreFactory, localFileSecretStoreFactory, localStorageBindingFactory } from '../../../libs/local';
import { memoryPubSubFactory, memoryStateStoreFactory } from '../../../libs/memory';
import { postgresBindingFactory, postgresStateStoreFactory } from '../../../libs/postgres';
import { redisBindingFactory, redisPubSubFactory, redisStateStoreFactory } from '../../../libs/redis';
import { sqliteStateStoreFactory } from '../../../libs/sqlite';
import { vaultSecretStoreFactory } from '../../../libs/vault';
import type { ComponentFactory } from '../../spi/component';

/** Every component type that ships with Sidekick. */
export const BUILTIN_COMPONENT_TYPES: readonly ComponentFactory[] = [
  // state
  memoryStateStoreFactory,
  sqliteStateStoreFactory,
  redisStateStoreFactory,
  postgresStateStoreFactory,
  // pub/sub
  memoryPubSubFactory,
  redisPubSubFactory,
  kafkaPubSubFactory,
  // bindings
  cronBindingFactory,
  httpBindingFactory,
  localStorageBindingFactory,
  postgresBindingFactory,
  redisBindingFactory,
  kafkaBindingFactory,
  // daprd's aliases (Dapr's bindings quickstart writes bindings.postgres)
  { ...postgresBindingFactory, type: 'bindings.postgres' },
  // secret stores
  localEnvSecretStoreFactory,
  localFileSecretStoreFactory,
  vaultSecretStoreFactory,
];
