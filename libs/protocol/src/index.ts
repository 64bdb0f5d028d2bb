export * from './proto-path';
export * from './executor.messages';
