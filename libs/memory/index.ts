export * from './memory.state-store';
export * from './memory.pubsub';
export * from './memory.lock';
