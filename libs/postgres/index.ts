export * from './postgres.state-store';
export * from './postgres.binding';
export * from './postgres.lock';
