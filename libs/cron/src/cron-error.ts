/**
 * The single error type of the cron layer. The message is meant for humans (API responses, job
 * validation), so it always names the offending field and token; callers branch on `code` only.
 */
export class CronError extends Error {
  readonly code = 'CRON_INVALID';

  constructor(message: string) {
    super(message);
    this.name = 'CronError';
    // Keeps `instanceof` reliable even if this file is compiled down to ES5 by a consumer.
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
