export * from './redis.state-store';
export * from './redis.pubsub';
export * from './redis.binding';
export * from './redis.configuration-store';
export * from './redis.lock';
