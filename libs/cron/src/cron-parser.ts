import { CRON_MACROS } from '@app/contract';
import { CronError } from './cron-error';
import {
  CronField,
  DAY_OF_MONTH_FIELD,
  DAY_OF_WEEK_FIELD,
  HOUR_FIELD,
  MINUTE_FIELD,
  MONTH_FIELD,
  SECOND_FIELD,
  parseField,
} from './cron-field';
import { parseDuration } from './duration';

export interface CronFields {
  readonly second: CronField;
  readonly minute: CronField;
  readonly hour: CronField;
  readonly dayOfMonth: CronField;
  readonly month: CronField;
  readonly dayOfWeek: CronField;
  /** The expression was written with a leading seconds field. */
  readonly hasSeconds: boolean;
}

export type ParsedExpression =
  | { readonly kind: 'fields'; readonly fields: CronFields }
  | { readonly kind: 'interval'; readonly intervalMs: number; readonly intervalText: string };

/** Turns an expression into field tables or an @every interval; zone-independent. */
export function parseExpression(expression: string): ParsedExpression {
  if (typeof expression !== 'string') {
    throw new CronError('expression must be a string');
  }
  const source = expression.trim();
  if (source === '') {
    throw new CronError('expression is empty (expected 5 or 6 fields or a @descriptor)');
  }
  if (source.startsWith('@')) {
    return parseDescriptor(source);
  }
  return { kind: 'fields', fields: parseFields(source) };
}

function parseDescriptor(source: string): ParsedExpression {
  const [head, ...args] = source.split(/\s+/);
  const name = head.toLowerCase();
  if (name === '@every') {
    const intervalText = source.slice(head.length).trim();
    if (intervalText === '') {
      throw new CronError("@every: missing duration (e.g. '@every 90s' or '@every 1h30m')");
    }
    let intervalMs: number;
    try {
      intervalMs = parseDuration(intervalText);
    } catch (error) {
      throw error instanceof CronError ? new CronError(`@every: ${error.message}`) : error;
    }
    if (intervalMs < 1000) {
      throw new CronError(`@every: interval must be at least 1s, got '${intervalText}'`);
    }
    if (intervalMs % 1000 !== 0) {
      throw new CronError(`@every: interval must be a whole number of seconds, got '${intervalText}'`);
    }
    return { kind: 'interval', intervalMs, intervalText };
  }
  const fields = CRON_MACROS[name];
  if (fields === undefined) {
    throw new CronError(
      `unknown descriptor '${head}' (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>)`,
    );
  }
  if (args.length > 0) {
    throw new CronError(`${head} takes no arguments, got '${args.join(' ')}'`);
  }
  return { kind: 'fields', fields: parseFields(fields) };
}

function parseFields(source: string): CronFields {
  const parts = source.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    throw new CronError(`expected 5 or 6 fields, got ${parts.length} in '${source}'`);
  }
  const hasSeconds = parts.length === 6;
  const [secondText, minuteText, hourText, dayOfMonthText, monthText, dayOfWeekText] = hasSeconds
    ? parts
    : ['0', ...parts];
  return {
    second: parseField(SECOND_FIELD, secondText),
    minute: parseField(MINUTE_FIELD, minuteText),
    hour: parseField(HOUR_FIELD, hourText),
    dayOfMonth: parseField(DAY_OF_MONTH_FIELD, dayOfMonthText),
    month: parseField(MONTH_FIELD, monthText),
    dayOfWeek: parseField(DAY_OF_WEEK_FIELD, dayOfWeekText),
    hasSeconds,
  };
}
