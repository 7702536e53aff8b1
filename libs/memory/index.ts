export * from './memory-state.store';
