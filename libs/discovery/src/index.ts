export * from './executor-directory';
export * from './static-directory';
