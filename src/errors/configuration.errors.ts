import { SidekickError } from './sidekick.error';

/** No configuration store is loaded at all. daprd: 500 `ERR_CONFIGURATION_STORE_NOT_CONFIGURED`. */
export class ConfigurationStoresNotConfiguredError extends SidekickError {
  constructor() {
    super('ERR_CONFIGURATION_STORE_NOT_CONFIGURED', 'configuration stores not configured');
  }
}

/** The name is not a loaded configuration store (a component of another kind included). daprd: 400. */
export class ConfigurationStoreNotFoundError extends SidekickError {
  constructor(name: string, known: readonly string[]) {
    super('ERR_CONFIGURATION_STORE_NOT_FOUND', `configuration store ${name} not found (configured configuration stores: ${known.join(', ') || 'none'})`, {
      component: name,
    });
  }
}
