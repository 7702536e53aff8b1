export { Actor, actor, type ActorMetadata, type ActorOptions, type ActorReentrancyOptions } from './actor.decorator';
export { Binding, binding, type BindingMetadata } from './binding.decorator';
export {
  getSecretToken,
  getStateStoreToken,
  SIDEKICK_ACTIVITY,
  SIDEKICK_ACTOR,
  SIDEKICK_BINDING,
  SIDEKICK_CONFIGURATION_CHANGE,
  SIDEKICK_STATE_STORE_PARAMS,
  SIDEKICK_SUBSCRIBE,
  SIDEKICK_WITH_LOCK,
  SIDEKICK_WORKFLOW,
} from './constants';
export { requestedStateStores, StateStore, type StateStoreParam } from './state-store.decorator';
export { type BulkSubscribeOptions, Subscribe, subscribe, type SubscribeMetadata, type SubscribeOptions } from './subscribe.decorator';
export { requestedSecrets, Secret, secretRef, type SecretRef } from './secret.decorator';
export {
  OnConfigurationChange,
  onConfigurationChange,
  type OnConfigurationChangeMetadata,
  type OnConfigurationChangeOptions,
} from './on-configuration-change.decorator';
export { type LockResource, WithLock, withLock, type WithLockDecoratorOptions, type WithLockMetadata, type WithLockRunner } from './with-lock.decorator';
export { Activity, activity, activityNameOf, Workflow, workflow } from './workflow.decorator';
