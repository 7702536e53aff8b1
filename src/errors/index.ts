export * from './config.errors';
export * from './error-codes';
export * from './invoke.errors';
export * from './sidekick.error';
export * from './state.errors';
export * from './pubsub.errors';
export * from './secret.errors';
export { formatIssues } from './zod-issues';
export * from './workflow.errors';
