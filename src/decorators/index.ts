export { getStateStoreToken, SIDEKICK_STATE_STORE_PARAMS } from './constants';
export { requestedStateStores, StateStore, type StateStoreParam } from './state-store.decorator';
