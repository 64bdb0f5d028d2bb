export * from './tick-lock';
export * from './in-process-lock';
