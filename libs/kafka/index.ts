export * from './kafka.binding';
export type { AuthType, InitialOffset, KafkaSettings } from './kafka.config';
export * from './kafka.pubsub';
