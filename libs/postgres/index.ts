export * from './postgres.state-store';
export * from './postgres.binding';
export * from './postgres.configuration-store';
export * from './postgres.lock';
