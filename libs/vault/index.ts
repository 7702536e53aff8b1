export * from './vault.secret-store';
