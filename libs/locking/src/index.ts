export * from './tick-lock';
export * from './in-process-lock';
export * from './redis-tick-lock';
