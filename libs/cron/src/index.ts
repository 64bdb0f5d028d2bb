export { CronError } from './cron-error';
export { CronSchedule } from './cron-schedule';
export type { CronScheduleOptions } from './cron-schedule';
export { parseDuration } from './duration';
