export { Actor, actor, type ActorMetadata, type ActorOptions, type ActorReentrancyOptions } from './actor.decorator';
export { Binding, binding, type BindingMetadata } from './binding.decorator';
export { getStateStoreToken, SIDEKICK_ACTOR, SIDEKICK_BINDING, SIDEKICK_STATE_STORE_PARAMS, SIDEKICK_SUBSCRIBE } from './constants';
export { requestedStateStores, StateStore, type StateStoreParam } from './state-store.decorator';
export { type BulkSubscribeOptions, Subscribe, subscribe, type SubscribeMetadata, type SubscribeOptions } from './subscribe.decorator';
