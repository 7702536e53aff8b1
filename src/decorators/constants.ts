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

/** `@Workflow(name)` on a method: the workflow's name. */
export const SIDEKICK_WORKFLOW = 'sidekick:workflow';

/** `@Activity(name)` on a method: the activity's name. */
export const SIDEKICK_ACTIVITY = 'sidekick:activity';
