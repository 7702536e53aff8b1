export * from './redis-state.store';
