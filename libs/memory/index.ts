export * from './memory.state-store';
export * from './memory.pubsub';
export * from './memory.configuration-store';
export * from './memory.lock';
