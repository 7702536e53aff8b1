export * from './local-env.secret-store';
export * from './local-file.secret-store';
export * from './localstorage.binding';
