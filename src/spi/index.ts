export * from './clock';
export * from './component';
export * from './logger';
export * from './name-resolver';
export * from './secret.store';
export * from './state.store';
export * from './state.rules';
