export { Binding, binding, type BindingMetadata } from './binding.decorator';
export {
  getSecretToken,
  getStateStoreToken,
  SIDEKICK_ACTIVITY,
  SIDEKICK_BINDING,
  SIDEKICK_STATE_STORE_PARAMS,
  SIDEKICK_SUBSCRIBE,
  SIDEKICK_WORKFLOW,
} from './constants';
export { requestedStateStores, StateStore, type StateStoreParam } from './state-store.decorator';
export { type BulkSubscribeOptions, Subscribe, subscribe, type SubscribeMetadata, type SubscribeOptions } from './subscribe.decorator';
export { requestedSecrets, Secret, secretRef, type SecretRef } from './secret.decorator';
export { Activity, activity, activityNameOf, Workflow, workflow } from './workflow.decorator';
