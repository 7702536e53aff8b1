export * from './postgres-state.store';
