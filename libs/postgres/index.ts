export * from './postgres.state-store';
export * from './postgres.binding';
