export * from './backoff';
export * from './deadline';
export * from './logger';
export * from './redis-client';
export * from './log-throttle';
