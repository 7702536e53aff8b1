export * from './cron.binding';
