export * from './tick-lock';
export * from './in-process-lock';
export * from './redlock-tick-lock';
