export * from './redis.state-store';
export * from './redis.pubsub';
export * from './redis.binding';
export * from './redis.lock';
