import { localEnvSecretStoreFactory, localFileSecretStoreFactory } from '../../../libs/local';
import { memoryPubSubFactory, memoryStateStoreFactory } from '../../../libs/memory';
import { postgresStateStoreFactory } from '../../../libs/postgres';
import { redisStateStoreFactory } from '../../../libs/redis';
import { sqliteStateStoreFactory } from '../../../libs/sqlite';
import type { ComponentFactory } from '../../spi/component';

/** Every component type that ships with Sidekick. */
export const BUILTIN_COMPONENT_TYPES: readonly ComponentFactory[] = [
  memoryStateStoreFactory,
  memoryPubSubFactory,
  sqliteStateStoreFactory,
  redisStateStoreFactory,
  postgresStateStoreFactory,
  localEnvSecretStoreFactory,
  localFileSecretStoreFactory,
];
