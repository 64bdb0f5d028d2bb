export * from './broker-names';
export * from './broker-message';
export * from './broker-url';
