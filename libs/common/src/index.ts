export * from './backoff';
export * from './deadline';
export * from './logger';
export * from './redis-client';
export * from './log-throttle';
export * from './secret-box';
export * from './secret-file';
export * from './secret-mask';
