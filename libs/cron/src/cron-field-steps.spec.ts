import { CronSchedule } from './cron-schedule';
import {
  DAY_OF_MONTH_FIELD,
  DAY_OF_WEEK_FIELD,
  FieldSpec,
  HOUR_FIELD,
  MINUTE_FIELD,
  MONTH_FIELD,
  SECOND_FIELD,
  parseField,
} from './cron-field';

// `N/step` means "from N to the field's maximum" (robfig/cron, which the original gocron's engine forks:
// getRange sets end = r.max for a single value with a step). The day-of-week maximum is Saturday (6): the
// extra spelling 7 for Sunday is not a day after Saturday, so a step never wraps onto it.

function valuesOf(spec: FieldSpec, text: string): readonly number[] {
  return parseField(spec, text).values;
}

describe('N/step runs to the field maximum', () => {
  const rows: ReadonlyArray<readonly [FieldSpec, string, readonly number[]]> = [
    [SECOND_FIELD, '50/3', [50, 53, 56, 59]],
    [MINUTE_FIELD, '50/3', [50, 53, 56, 59]],
    [HOUR_FIELD, '17/3', [17, 20, 23]],
    [DAY_OF_MONTH_FIELD, '25/3', [25, 28, 31]],
    [MONTH_FIELD, '8/2', [8, 10, 12]],
    [MONTH_FIELD, 'AUG/2', [8, 10, 12]],
    [DAY_OF_WEEK_FIELD, '1/2', [1, 3, 5]],
    [DAY_OF_WEEK_FIELD, 'MON/2', [1, 3, 5]],
    [DAY_OF_WEEK_FIELD, '6/1', [6]],
    [DAY_OF_WEEK_FIELD, '0/3', [0, 3, 6]],
    [DAY_OF_WEEK_FIELD, '0/7', [0]],
    [DAY_OF_WEEK_FIELD, '7/2', [0]], // Sunday written as 7 alone: nothing follows it
  ];
  it.each(rows.map(([spec, text, expected]) => [spec.name, text, spec, expected] as const))(
    '%s field: %s',
    (_name, text, spec, expected) => {
      expect(valuesOf(spec, text)).toEqual(expected);
    },
  );

  it('keeps */step and N-M/step as they were', () => {
    expect(valuesOf(DAY_OF_WEEK_FIELD, '*/2')).toEqual([0, 2, 4, 6]);
    expect(valuesOf(DAY_OF_WEEK_FIELD, '*/3')).toEqual([0, 3, 6]);
    expect(valuesOf(DAY_OF_WEEK_FIELD, '*/7')).toEqual([0]);
    expect(valuesOf(DAY_OF_WEEK_FIELD, '1-5/2')).toEqual([1, 3, 5]);
    expect(valuesOf(MINUTE_FIELD, '*/20')).toEqual([0, 20, 40]);
    expect(valuesOf(MINUTE_FIELD, '10-30/10')).toEqual([10, 20, 30]);
    expect(valuesOf(DAY_OF_MONTH_FIELD, '*/10')).toEqual([1, 11, 21, 31]);
  });

  it('reads 7 as Sunday wherever it is written, ranges included', () => {
    expect(valuesOf(DAY_OF_WEEK_FIELD, '7')).toEqual([0]);
    expect(valuesOf(DAY_OF_WEEK_FIELD, '5-7')).toEqual([0, 5, 6]); // Fri, Sat, Sun
    expect(valuesOf(DAY_OF_WEEK_FIELD, 'FRI-7')).toEqual([0, 5, 6]);
    expect(valuesOf(DAY_OF_WEEK_FIELD, '1-7/2')).toEqual([0, 1, 3, 5]); // 1,3,5,7: the range names 7
    expect(valuesOf(DAY_OF_WEEK_FIELD, '0-7')).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  // 2026-01-05 is a Monday (2026-01-01 is a Thursday).
  it('0 0 * * 1/2 fires on Monday, Wednesday and Friday, never on Sunday', () => {
    const fires = CronSchedule.parse('0 0 * * 1/2')
      .nextN(new Date('2026-01-04T12:00:00Z'), 6)
      .map((d) => d.toISOString().slice(0, 10));
    expect(fires).toEqual(['2026-01-05', '2026-01-07', '2026-01-09', '2026-01-12', '2026-01-14', '2026-01-16']);
  });
});
