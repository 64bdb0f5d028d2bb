import { CronError } from './cron-error';
import { CronSchedule } from './cron-schedule';

function errorOf(expr: string, timezone?: string): CronError {
  try {
    CronSchedule.parse(expr, { timezone });
  } catch (error) {
    if (error instanceof CronError) {
      return error;
    }
    throw error;
  }
  throw new Error(`expected '${expr}' to be refused`);
}

describe('CronSchedule.parse refusals', () => {
  // Each message must name the problem: the field and the offending token where there is one.
  it.each<[string, string, RegExp[]]>([
    ['four fields', '* * * *', [/expected 5 or 6 fields, got 4/]],
    ['seven fields', '0 0 0 * * * *', [/expected 5 or 6 fields, got 7/]],
    ['minute 60', '60 * * * *', [/minute field/, /60 is out of range 0-59/]],
    ['second 60', '60 * * * * *', [/second field/, /60 is out of range 0-59/]],
    ['hour 24', '0 24 * * *', [/hour field/, /24 is out of range 0-23/]],
    ['day-of-month 0', '0 0 0 * *', [/day-of-month field/, /0 is out of range 1-31/]],
    ['day-of-month 32', '0 0 32 * *', [/day-of-month field: 32 is out of range 1-31/]],
    ['month 13', '0 0 1 13 *', [/month field/, /13 is out of range 1-12/]],
    ['day-of-week 8', '0 0 * * 8', [/day-of-week field/, /8 is out of range 0-7/]],
    ['backwards range', '0 0 * * 5-1', [/day-of-week field/, /5-1/, /backwards/]],
    ['backwards named range', '0 0 * * FRI-MON', [/day-of-week field/, /FRI-MON/, /backwards/]],
    ['step 0', '*/0 * * * *', [/minute field/, /\*\/0/, /step 0/]],
    ['non-numeric step', '*/x * * * *', [/minute field/, /'x'/]],
    ['L', '0 0 L * *', [/L is not supported \(day-of-month field\)/]],
    ['5L', '0 0 * * 5L', [/L is not supported \(day-of-week field\)/, /5L/]],
    ['15W', '0 0 15W * *', [/W is not supported \(day-of-month field\)/, /15W/]],
    ['5#3', '0 0 * * 5#3', [/# is not supported \(day-of-week field\)/, /5#3/]],
    ['? in minutes', '? * * * *', [/minute field/, /'\?'/]],
    ['? combined', '0 0 ?/2 * *', [/day-of-month field/, /\?\/2/]],
    ['unknown month name', '0 0 1 FOO *', [/month field/, /unknown name 'FOO'/]],
    ['name in hour field', '0 MON * * *', [/hour field/, /MON/]],
    ['unknown character', '0 0 * * 1;2', [/day-of-week field/, /';'/]],
    ['empty list element', '0 0 1,,2 * *', [/day-of-month field/, /1,,2/]],
    ['@every 0s', '@every 0s', [/@every/, /at least 1s/, /0s/]],
    ['@every 500ms', '@every 500ms', [/@every/, /at least 1s/, /500ms/]],
    ['@every 1500ms', '@every 1500ms', [/@every/, /whole number of seconds/, /1500ms/]],
    ['@every abc', '@every abc', [/@every/, /invalid duration 'abc'/]],
    ['@every without duration', '@every', [/@every/, /missing duration/]],
    ['@foo', '@foo', [/unknown descriptor '@foo'/]],
    ['descriptor with arguments', '@daily 5', [/@daily takes no arguments/]],
    ['30 February', '0 0 30 2 *', [/never fires: day 30 of February does not exist/]],
    ['31 April', '0 0 31 4 *', [/never fires: day 31 of April does not exist/]],
    [
      '31 in short months',
      '0 0 31 2,4,6,9,11 *',
      [/never fires: day 31 does not exist in February, April, June, September or November/],
    ],
    ['empty string', '', [/empty/]],
    ['blank string', '   ', [/empty/]],
  ])('%s: %s', (_name, expr, patterns) => {
    const error = errorOf(expr);
    expect(error).toBeInstanceOf(CronError);
    expect(error.code).toBe('CRON_INVALID');
    for (const pattern of patterns) {
      expect(error.message).toMatch(pattern);
    }
  });

  it('refuses an unknown time zone', () => {
    const error = errorOf('0 0 * * *', 'Mars/Base');
    expect(error.message).toMatch(/unknown time zone 'Mars\/Base'/);
    expect(errorOf('@every 1m', 'Not/AZone').message).toMatch(/unknown time zone 'Not\/AZone'/);
  });

  it('validate returns the reason instead of throwing', () => {
    expect(CronSchedule.validate('0 0 30 2 *')).toMatch(/never fires/);
    expect(CronSchedule.validate('0 0 * * *', 'Mars/Base')).toMatch(/unknown time zone/);
    expect(CronSchedule.validate('0 0 * *')).toMatch(/got 4/);
  });

  it('rejects invalid dates passed to next()', () => {
    expect(() => CronSchedule.parse('@hourly').next(new Date(NaN))).toThrow(TypeError);
  });
});
