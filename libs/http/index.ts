export * from './http.binding';
