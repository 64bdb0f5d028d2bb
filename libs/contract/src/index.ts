// The external contract (CONTRACT.md) as code, shared by the server and the dashboard. The browser bundles it:
// no Node, Nest or other package imports here.
export * from './vocabulary';
export * from './http-spec';
export * from './api-json';
export * from './cron-names';
export * from './auth-vocabulary';
