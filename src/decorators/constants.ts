/** Metadata keys written by Sidekick's decorators (all in one place). */
export const SIDEKICK_STATE_STORE_PARAMS = 'sidekick:state-store-params';

/** The injection token of the typed client for a state store (what `@StateStore(name)` injects). */
export function getStateStoreToken(name: string): string {
  return `sidekick:state-store:${name}`;
}

/** `@Subscribe` options on a method (an array: one method may subscribe to several topics). */
export const SIDEKICK_SUBSCRIBE = 'sidekick:subscribe';

/** `@Binding` options on a method. */
export const SIDEKICK_BINDING = 'sidekick:binding';

/** The injection token of one secret value (what `@Secret(store, name, key)` injects). */
export function getSecretToken(store: string, name: string, key: string = name): string {
  return `sidekick:secret:${JSON.stringify([store, name, key])}`;
}
/** `@OnConfigurationChange` options on a method (an array: one method may watch several stores). */
export const SIDEKICK_CONFIGURATION_CHANGE = 'sidekick:configuration-change';
/** `@WithLock` options on a method (the wrapper the decorator installs carries them). */
export const SIDEKICK_WITH_LOCK = 'sidekick:with-lock';

/** The lock runner the lock block attaches to each instance that has `@WithLock` methods (metadata on the instance). */
export const SIDEKICK_WITH_LOCK_RUNNER = 'sidekick:with-lock-runner';
/** `@Actor` options on a class. */
export const SIDEKICK_ACTOR = 'sidekick:actor';

/** `@Workflow(name)` on a method: the workflow's name. */
export const SIDEKICK_WORKFLOW = 'sidekick:workflow';

/** `@Activity(name)` on a method: the activity's name. */
export const SIDEKICK_ACTIVITY = 'sidekick:activity';
