export * from './sqlite.state-store';
