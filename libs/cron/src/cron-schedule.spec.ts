import { CronSchedule } from './cron-schedule';

// Every expected instant below was worked out by hand from the calendar facts stated in each group's
// comment, not produced by running the implementation.
//
// Calendar anchors used throughout:
// - 2026-01-01 is a Thursday (2025-01-01 was a Wednesday and 2025 has 365 days).
// - Feb 2026 starts on a Sunday (Jan 1 + 31 days = Thu + 3), so March 1 and 2026-03-08 are Sundays too.
// - Apr 1 2026 = Mar 1 + 31 days = Sunday + 3 = Wednesday. May 1 = Jan 1 + 120 days = Friday.
// - Jun 1 = Jan 1 + 151 days = Monday. Oct 1 = Jan 1 + 273 days = Thursday. Nov 1 = Oct 1 + 31 = Sunday.
// - America/New_York 2026: EST = UTC-5, EDT = UTC-4; clocks go 02:00 EST -> 03:00 EDT on Sunday
//   2026-03-08 (at 07:00Z) and 02:00 EDT -> 01:00 EST on Sunday 2026-11-01 (at 06:00Z).

interface Row {
  readonly expr: string;
  readonly after: string;
  readonly expected: readonly string[];
  readonly timezone?: string;
}

function expectRows(rows: readonly Row[]): void {
  it.each(rows.map((row) => [row.expr, row.timezone ?? 'UTC', row.after, row]))(
    '%s [%s] after %s',
    (_expr, _zone, _after, row) => {
      const { expr, after, expected, timezone } = row;
      const schedule = CronSchedule.parse(expr, { timezone });
      const fires = schedule.nextN(new Date(after), expected.length).map((d) => d.toISOString());
      expect(fires).toEqual(expected.map((iso) => new Date(iso).toISOString()));
    },
  );
}

describe('CronSchedule fire times', () => {
  // Plain five-field forms in UTC. "Strictly after": a fire equal to `after` is not returned, and a
  // fractional `after` rounds up to the next whole minute for minute-resolution expressions.
  describe('five-field basics', () => {
    expectRows([
      { expr: '* * * * *', after: '2026-01-01T00:00:00Z', expected: ['2026-01-01T00:01:00Z', '2026-01-01T00:02:00Z'] },
      { expr: '* * * * *', after: '2026-01-01T00:00:30.500Z', expected: ['2026-01-01T00:01:00Z'] },
      // 10:05 itself is excluded, so the next :05 is an hour later.
      { expr: '5 * * * *', after: '2026-01-01T10:05:00Z', expected: ['2026-01-01T11:05:00Z'] },
      { expr: '0 12 * * *', after: '2026-01-01T12:00:00Z', expected: ['2026-01-02T12:00:00Z', '2026-01-03T12:00:00Z'] },
      // The 15th of January is already past on the 20th.
      { expr: '0 0 15 * *', after: '2026-01-20T00:00:00Z', expected: ['2026-02-15T00:00:00Z', '2026-03-15T00:00:00Z'] },
      { expr: '0 0 1 6 *', after: '2026-01-01T00:00:00Z', expected: ['2026-06-01T00:00:00Z', '2027-06-01T00:00:00Z'] },
      // Thursday Jan 1 -> first Monday is Jan 5.
      { expr: '0 9 * * 1', after: '2026-01-01T00:00:00Z', expected: ['2026-01-05T09:00:00Z', '2026-01-12T09:00:00Z'] },
      // Jan 2 is a Friday; the weekend is skipped.
      {
        expr: '0 0 * * 1-5',
        after: '2026-01-02T00:00:00Z',
        expected: ['2026-01-05T00:00:00Z', '2026-01-06T00:00:00Z'],
      },
    ]);
  });

  // Six fields: the first is seconds.
  describe('six-field seconds', () => {
    expectRows([
      {
        expr: '*/15 * * * * *',
        after: '2026-01-01T00:00:00Z',
        expected: ['2026-01-01T00:00:15Z', '2026-01-01T00:00:30Z', '2026-01-01T00:00:45Z', '2026-01-01T00:01:00Z'],
      },
      { expr: '30 0 12 * * *', after: '2026-01-01T00:00:00Z', expected: ['2026-01-01T12:00:30Z'] },
      { expr: '0 0 0 1 1 *', after: '2026-06-01T00:00:00Z', expected: ['2027-01-01T00:00:00Z'] },
      // Seconds 5,6,7 of 00:00 each day; 00:00:05 itself is excluded.
      {
        expr: '5-7 0 0 * * *',
        after: '2026-01-01T00:00:05Z',
        expected: ['2026-01-01T00:00:06Z', '2026-01-01T00:00:07Z', '2026-01-02T00:00:05Z'],
      },
    ]);
  });

  describe('steps, ranges and lists', () => {
    expectRows([
      // */20 = 0,20,40.
      {
        expr: '*/20 * * * *',
        after: '2026-01-01T00:50:00Z',
        expected: ['2026-01-01T01:00:00Z', '2026-01-01T01:20:00Z', '2026-01-01T01:40:00Z'],
      },
      // 10-30/10 = 10,20,30.
      {
        expr: '10-30/10 * * * *',
        after: '2026-01-01T00:00:00Z',
        expected: ['2026-01-01T00:10:00Z', '2026-01-01T00:20:00Z', '2026-01-01T00:30:00Z', '2026-01-01T01:10:00Z'],
      },
      // a/n runs from a to the field maximum: 45,50,55.
      {
        expr: '45/5 * * * *',
        after: '2026-01-01T00:00:00Z',
        expected: ['2026-01-01T00:45:00Z', '2026-01-01T00:50:00Z', '2026-01-01T00:55:00Z', '2026-01-01T01:45:00Z'],
      },
      {
        expr: '0 8-10 * * *',
        after: '2026-01-01T09:30:00Z',
        expected: ['2026-01-01T10:00:00Z', '2026-01-02T08:00:00Z', '2026-01-02T09:00:00Z'],
      },
      {
        expr: '0,30 9,17 * * *',
        after: '2026-01-01T09:00:00Z',
        expected: ['2026-01-01T09:30:00Z', '2026-01-01T17:00:00Z', '2026-01-01T17:30:00Z', '2026-01-02T09:00:00Z'],
      },
      // 1-3 plus */10 (1,11,21,31) -> {1,2,3,11,21,31}.
      {
        expr: '0 0 1-3,*/10 * *',
        after: '2026-01-03T00:00:00Z',
        expected: ['2026-01-11T00:00:00Z', '2026-01-21T00:00:00Z', '2026-01-31T00:00:00Z', '2026-02-01T00:00:00Z'],
      },
    ]);
  });

  describe('month and weekday names', () => {
    expectRows([
      {
        expr: '0 0 1 JAN,jul *',
        after: '2026-02-01T00:00:00Z',
        expected: ['2026-07-01T00:00:00Z', '2027-01-01T00:00:00Z'],
      },
      // Friday Jan 2 18:00 is excluded; next weekday is Monday Jan 5.
      { expr: '0 18 * * MON-FRI', after: '2026-01-02T18:00:00Z', expected: ['2026-01-05T18:00:00Z'] },
      // First Sunday after Thursday Jan 1 is Jan 4.
      {
        expr: '0 0 * * sun',
        after: '2026-01-01T00:00:00Z',
        expected: ['2026-01-04T00:00:00Z', '2026-01-11T00:00:00Z'],
      },
      { expr: '0 0 * * 7', after: '2026-01-01T00:00:00Z', expected: ['2026-01-04T00:00:00Z', '2026-01-11T00:00:00Z'] },
      // FEB-APR/2 = February and April.
      {
        expr: '0 0 1 FEB-APR/2 *',
        after: '2026-01-01T00:00:00Z',
        expected: ['2026-02-01T00:00:00Z', '2026-04-01T00:00:00Z', '2027-02-01T00:00:00Z'],
      },
    ]);
  });

  // '?' is '*': the other day field alone decides.
  describe('question mark', () => {
    expectRows([
      {
        expr: '0 0 ? * MON',
        after: '2026-01-01T00:00:00Z',
        expected: ['2026-01-05T00:00:00Z', '2026-01-12T00:00:00Z'],
      },
      { expr: '0 0 10 * ?', after: '2026-01-01T00:00:00Z', expected: ['2026-01-10T00:00:00Z', '2026-02-10T00:00:00Z'] },
    ]);
  });

  // From Friday 2026-05-15 10:20:30Z: next Jan 1, next 1st of month, Sunday May 17, next midnight, next hour.
  describe('descriptors', () => {
    const after = '2026-05-15T10:20:30Z';
    expectRows([
      { expr: '@yearly', after, expected: ['2027-01-01T00:00:00Z'] },
      { expr: '@annually', after, expected: ['2027-01-01T00:00:00Z'] },
      { expr: '@monthly', after, expected: ['2026-06-01T00:00:00Z'] },
      { expr: '@weekly', after, expected: ['2026-05-17T00:00:00Z', '2026-05-24T00:00:00Z'] },
      { expr: '@daily', after, expected: ['2026-05-16T00:00:00Z'] },
      { expr: '@midnight', after, expected: ['2026-05-16T00:00:00Z'] },
      { expr: '@hourly', after, expected: ['2026-05-15T11:00:00Z', '2026-05-15T12:00:00Z'] },
      { expr: '@DAILY', after, expected: ['2026-05-16T00:00:00Z'] },
    ]);
  });

  // Vixie OR rule: both day fields restricted -> either may match. Anything but a literal * or ? restricts.
  describe('day-of-month / day-of-week OR rule', () => {
    expectRows([
      // April 2026: Fridays are 3, 10, 17, 24 (Apr 1 is a Wednesday); the 13th is a Monday.
      {
        expr: '0 0 13 * 5',
        after: '2026-04-01T00:00:00Z',
        expected: ['2026-04-03T00:00:00Z', '2026-04-10T00:00:00Z', '2026-04-13T00:00:00Z', '2026-04-17T00:00:00Z'],
      },
      // */2 in day-of-month is restricted: odd days OR Mondays. Jan 11 odd, Jan 12 Monday, 13 odd, 14 even
      // Wednesday, 15 odd.
      {
        expr: '0 0 */2 * 1',
        after: '2026-01-10T00:00:00Z',
        expected: ['2026-01-11T00:00:00Z', '2026-01-12T00:00:00Z', '2026-01-13T00:00:00Z', '2026-01-15T00:00:00Z'],
      },
      // */2 in day-of-week = Sun,Tue,Thu,Sat and is restricted: the 1st OR those days. Jun 1 is a Monday
      // (fires via the 1st), Jun 2 Tuesday, Jun 3 Wednesday no, Jun 4 Thursday.
      {
        expr: '0 0 1 * */2',
        after: '2026-05-31T00:00:00Z',
        expected: ['2026-06-01T00:00:00Z', '2026-06-02T00:00:00Z', '2026-06-04T00:00:00Z'],
      },
      // 1-31 restricts too, so OR-ed with Mondays it is simply every day.
      {
        expr: '0 0 1-31 * 1',
        after: '2026-01-01T00:00:00Z',
        expected: ['2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z'],
      },
      // 30 February never exists but OR Monday fires on February Mondays: Feb 2 and Feb 9 2026.
      { expr: '0 0 30 2 1', after: '2026-01-01T00:00:00Z', expected: ['2026-02-02T00:00:00Z', '2026-02-09T00:00:00Z'] },
    ]);
  });

  describe('leap days, month ends and year rollover', () => {
    expectRows([
      // 2026 and 2027 are not leap years; 2028 and 2032 are.
      { expr: '0 0 29 2 *', after: '2026-01-01T00:00:00Z', expected: ['2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z'] },
      // 2100 is not a leap year (divisible by 100, not by 400): after 2096 comes 2104.
      { expr: '0 0 29 2 *', after: '2096-03-01T00:00:00Z', expected: ['2104-02-29T00:00:00Z'] },
      // Months with 31 days after January: March, May, July, August.
      {
        expr: '0 0 31 * *',
        after: '2026-01-31T00:00:00Z',
        expected: ['2026-03-31T00:00:00Z', '2026-05-31T00:00:00Z', '2026-07-31T00:00:00Z', '2026-08-31T00:00:00Z'],
      },
      {
        expr: '59 23 31 12 *',
        after: '2026-06-01T00:00:00Z',
        expected: ['2026-12-31T23:59:00Z', '2027-12-31T23:59:00Z'],
      },
      { expr: '* * * * *', after: '2026-12-31T23:59:00Z', expected: ['2027-01-01T00:00:00Z'] },
      // Instants before the epoch are negative milliseconds and must work like any other.
      { expr: '* * * * *', after: '1969-12-31T23:59:30Z', expected: ['1970-01-01T00:00:00Z'] },
      { expr: '0 12 * * *', after: '1950-06-01T00:00:00Z', expected: ['1950-06-01T12:00:00Z'] },
    ]);
  });

  describe('fixed-offset and European zones', () => {
    expectRows([
      // Asia/Kolkata is UTC+05:30 all year: 09:00 IST = 03:30Z; 05:30 IST = 00:00Z (the start is excluded).
      {
        expr: '0 9 * * *',
        timezone: 'Asia/Kolkata',
        after: '2026-01-01T00:00:00Z',
        expected: ['2026-01-01T03:30:00Z', '2026-01-02T03:30:00Z'],
      },
      {
        expr: '30 5 * * *',
        timezone: 'Asia/Kolkata',
        after: '2026-01-01T00:00:00Z',
        expected: ['2026-01-02T00:00:00Z'],
      },
      // Europe/London: BST (UTC+1) starts Sunday 2026-03-29 01:00 GMT -> 02:00 BST. 09:00 local is 09:00Z on
      // the 28th and 08:00Z from the 29th.
      {
        expr: '0 9 * * *',
        timezone: 'Europe/London',
        after: '2026-03-27T12:00:00Z',
        expected: ['2026-03-28T09:00:00Z', '2026-03-29T08:00:00Z', '2026-03-30T08:00:00Z'],
      },
      // 01:30 does not exist on 2026-03-29 in London; the next is 01:30 BST on the 30th = 00:30Z.
      {
        expr: '30 1 * * *',
        timezone: 'Europe/London',
        after: '2026-03-28T12:00:00Z',
        expected: ['2026-03-30T00:30:00Z'],
      },
      // GMT returns Sunday 2026-10-25 (last Sunday of October) 02:00 BST -> 01:00 GMT. 01:30 happens twice;
      // only the first (BST, 00:30Z) fires. On the 26th 01:30 GMT = 01:30Z.
      {
        expr: '30 1 * * *',
        timezone: 'Europe/London',
        after: '2026-10-24T12:00:00Z',
        expected: ['2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z'],
      },
    ]);
  });

  // Australia/Lord_Howe: UTC+10:30 standard, UTC+11 in summer, a 30-minute shift.
  // 2026-04-05 (first Sunday of April) 02:00 +11 (= Apr 4 15:00Z) -> 01:30 +10:30, so 01:30-02:00 repeats.
  // 2026-10-04 (first Sunday of October) 02:00 +10:30 (= Oct 3 15:30Z) -> 02:30 +11, so 02:00-02:30 is skipped.
  describe('Australia/Lord_Howe half-hour DST', () => {
    expectRows([
      // 01:45 first at +11 = Apr 4 14:45Z; the repeat at +10:30 (15:15Z) is skipped. Apr 6 01:45 +10:30 =
      // Apr 5 15:15Z.
      {
        expr: '45 1 * * *',
        timezone: 'Australia/Lord_Howe',
        after: '2026-04-04T12:00:00Z',
        expected: ['2026-04-04T14:45:00Z', '2026-04-05T15:15:00Z'],
      },
      // Hour '*': 01:45 +11 (14:45Z), then 01:30 +10:30 (15:00Z), 01:45 +10:30 (15:15Z), 02:00 +10:30 (15:30Z).
      {
        expr: '*/15 * * * *',
        timezone: 'Australia/Lord_Howe',
        after: '2026-04-04T14:40:00Z',
        expected: ['2026-04-04T14:45:00Z', '2026-04-04T15:00:00Z', '2026-04-04T15:15:00Z', '2026-04-04T15:30:00Z'],
      },
      // 02:15 on Oct 4 is in the gap; Oct 5 02:15 +11 = Oct 4 15:15Z.
      {
        expr: '15 2 * * *',
        timezone: 'Australia/Lord_Howe',
        after: '2026-10-03T12:00:00Z',
        expected: ['2026-10-04T15:15:00Z'],
      },
    ]);
  });

  // Spring forward, Sunday 2026-03-08: 01:59:59 EST (06:59:59Z) is followed by 03:00 EDT (07:00Z);
  // wall times 02:00-02:59 do not exist that day and are skipped.
  describe('America/New_York spring forward 2026-03-08', () => {
    const timezone = 'America/New_York';
    expectRows([
      // Mar 7 02:30 EST = 07:30Z; Mar 8 skipped; Mar 9 02:30 EDT = 06:30Z.
      {
        expr: '30 2 * * *',
        timezone,
        after: '2026-03-06T12:00:00Z',
        expected: ['2026-03-07T07:30:00Z', '2026-03-09T06:30:00Z'],
      },
      { expr: '30 2 * * *', timezone, after: '2026-03-07T12:00:00Z', expected: ['2026-03-09T06:30:00Z'] },
      // 01:30 exists on both days: EST on the 8th (06:30Z), EDT on the 9th (05:30Z).
      {
        expr: '30 1 * * *',
        timezone,
        after: '2026-03-07T12:00:00Z',
        expected: ['2026-03-08T06:30:00Z', '2026-03-09T05:30:00Z'],
      },
      // From 00:00 EST (05:00Z): 00:30 EST, 01:30 EST, (02:30 missing), 03:30 EDT, 04:30 EDT.
      {
        expr: '30 * * * *',
        timezone,
        after: '2026-03-08T05:00:00Z',
        expected: ['2026-03-08T05:30:00Z', '2026-03-08T06:30:00Z', '2026-03-08T07:30:00Z', '2026-03-08T08:30:00Z'],
      },
      // From 01:40 EST: 01:45 EST (06:45Z), then 03:00 EDT (07:00Z) is the next quarter hour, 03:15 EDT.
      {
        expr: '*/15 * * * *',
        timezone,
        after: '2026-03-08T06:40:00Z',
        expected: ['2026-03-08T06:45:00Z', '2026-03-08T07:00:00Z', '2026-03-08T07:15:00Z'],
      },
      // Six fields, 02:30:00 daily: skipped on the 8th like the five-field form.
      { expr: '0 30 2 * * *', timezone, after: '2026-03-07T12:00:00Z', expected: ['2026-03-09T06:30:00Z'] },
      // Six fields, 01:59:30 daily: 06:59:30Z on the 8th (EST), 05:59:30Z on the 9th (EDT).
      {
        expr: '30 59 1 * * *',
        timezone,
        after: '2026-03-07T12:00:00Z',
        expected: ['2026-03-08T06:59:30Z', '2026-03-09T05:59:30Z'],
      },
    ]);
  });

  // Fall back, Sunday 2026-11-01: 01:00-01:59 is lived twice, first as EDT (05:00Z-05:59Z), then as EST
  // (06:00Z-06:59Z). Restricted hour -> first occurrence only; hour '*' -> both.
  describe('America/New_York fall back 2026-11-01', () => {
    const timezone = 'America/New_York';
    expectRows([
      // 01:30 EDT = 05:30Z only; Nov 2 01:30 EST = 06:30Z.
      {
        expr: '30 1 * * *',
        timezone,
        after: '2026-10-31T12:00:00Z',
        expected: ['2026-11-01T05:30:00Z', '2026-11-02T06:30:00Z'],
      },
      // Having just fired at 05:30Z, the 06:30Z repeat must not fire.
      { expr: '30 1 * * *', timezone, after: '2026-11-01T05:30:00Z', expected: ['2026-11-02T06:30:00Z'] },
      // 02:30 happens once, in EST: 07:30Z both days.
      {
        expr: '30 2 * * *',
        timezone,
        after: '2026-10-31T12:00:00Z',
        expected: ['2026-11-01T07:30:00Z', '2026-11-02T07:30:00Z'],
      },
      // Midnight is unaffected: 00:00 EDT = 04:00Z, then 00:00 EST = 05:00Z.
      {
        expr: '0 0 * * *',
        timezone,
        after: '2026-10-31T12:00:00Z',
        expected: ['2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z'],
      },
      // Hour '*': 00:30 EDT, 01:30 EDT, 01:30 EST, 02:30 EST.
      {
        expr: '30 * * * *',
        timezone,
        after: '2026-11-01T04:00:00Z',
        expected: ['2026-11-01T04:30:00Z', '2026-11-01T05:30:00Z', '2026-11-01T06:30:00Z', '2026-11-01T07:30:00Z'],
      },
      // Every 15 minutes keeps real time through the repeated hour: 01:45 EDT, 01:00 EST, ... 02:00 EST.
      {
        expr: '*/15 * * * *',
        timezone,
        after: '2026-11-01T05:30:00Z',
        expected: [
          '2026-11-01T05:45:00Z',
          '2026-11-01T06:00:00Z',
          '2026-11-01T06:15:00Z',
          '2026-11-01T06:30:00Z',
          '2026-11-01T06:45:00Z',
          '2026-11-01T07:00:00Z',
        ],
      },
      // Hours 0,2,4: 00:00 EDT (04:00Z), 02:00 EST (07:00Z), 04:00 EST (09:00Z).
      {
        expr: '0 */2 * * *',
        timezone,
        after: '2026-11-01T03:00:00Z',
        expected: ['2026-11-01T04:00:00Z', '2026-11-01T07:00:00Z', '2026-11-01T09:00:00Z'],
      },
      // Restricted hour, several minutes: all of 01:00/01:20/01:40 EDT, none in EST; Nov 2 01:00 EST = 06:00Z.
      {
        expr: '*/20 1 * * *',
        timezone,
        after: '2026-11-01T04:30:00Z',
        expected: ['2026-11-01T05:00:00Z', '2026-11-01T05:20:00Z', '2026-11-01T05:40:00Z', '2026-11-02T06:00:00Z'],
      },
      // Six fields, hour '*': :00 and :30 of every real hour.
      {
        expr: '0 */30 * * * *',
        timezone,
        after: '2026-11-01T05:15:00Z',
        expected: ['2026-11-01T05:30:00Z', '2026-11-01T06:00:00Z', '2026-11-01T06:30:00Z', '2026-11-01T07:00:00Z'],
      },
      // Six fields, restricted hour: 01:30:15 EDT only, then 01:30:15 EST the next day.
      {
        expr: '15 30 1 * * *',
        timezone,
        after: '2026-10-31T12:00:00Z',
        expected: ['2026-11-01T05:30:15Z', '2026-11-02T06:30:15Z'],
      },
    ]);

    it('counts 16 quarter hours in the 4 real hours 04:00Z-08:00Z', () => {
      const schedule = CronSchedule.parse('*/15 * * * *', { timezone });
      expect(schedule.countBetween(new Date('2026-11-01T04:00:00Z'), new Date('2026-11-01T08:00:00Z'), 1000)).toBe(16);
    });
  });

  // @every: anchor rounded down to the second, fires at anchor + k * interval for k >= 1.
  describe('@every', () => {
    it('fires at anchor + k * 90s from an anchor with milliseconds', () => {
      // Anchor 00:00:00.700 -> base 00:00:00; +90s = 00:01:30, +180s = 00:03:00, +270s = 00:04:30.
      const anchor = new Date('2026-01-01T00:00:00.700Z');
      const schedule = CronSchedule.parse('@every 90s', { anchor });
      expect(schedule.nextN(anchor, 3).map((d) => d.toISOString())).toEqual([
        '2026-01-01T00:01:30.000Z',
        '2026-01-01T00:03:00.000Z',
        '2026-01-01T00:04:30.000Z',
      ]);
    });

    it('skips to the first multiple strictly after `after`', () => {
      // 2h after the anchor is 1.33 intervals of 1h30m -> k = 2 (03:00Z), k = 3 (04:30Z).
      const schedule = CronSchedule.parse('@every 1h30m', { anchor: new Date('2026-01-01T00:00:00Z') });
      expect(schedule.nextN(new Date('2026-01-01T02:00:00Z'), 2).map((d) => d.toISOString())).toEqual([
        '2026-01-01T03:00:00.000Z',
        '2026-01-01T04:30:00.000Z',
      ]);
    });

    it('never fires at the anchor itself, even when asked from before it', () => {
      const schedule = CronSchedule.parse('@every 1h', { anchor: new Date('2026-01-01T00:00:00Z') });
      expect(schedule.next(new Date('2025-12-31T00:00:00Z'))?.toISOString()).toBe('2026-01-01T01:00:00.000Z');
    });

    it('defaults the anchor to the epoch', () => {
      // 2026-01-01T00:00Z is 1767225600 s after the epoch, a multiple of 3600 and of 90.
      expect(CronSchedule.parse('@every 1h').next(new Date('2026-01-01T00:30:00Z'))?.toISOString()).toBe(
        '2026-01-01T01:00:00.000Z',
      );
      // 3600 / 90 = 40 fires in (00:00Z, 01:00Z].
      expect(
        CronSchedule.parse('@every 90s').countBetween(
          new Date('2026-01-01T00:00:00Z'),
          new Date('2026-01-01T01:00:00Z'),
          1000,
        ),
      ).toBe(40);
    });

    it('ignores the time zone (absolute instants across the New York spring gap)', () => {
      const schedule = CronSchedule.parse('@every 1h', {
        timezone: 'America/New_York',
        anchor: new Date('2026-03-08T06:00:00Z'),
      });
      expect(schedule.nextN(new Date('2026-03-08T06:00:00Z'), 2).map((d) => d.toISOString())).toEqual([
        '2026-03-08T07:00:00.000Z',
        '2026-03-08T08:00:00.000Z',
      ]);
    });
  });
});

describe('CronSchedule ranges and metadata', () => {
  const hourly = CronSchedule.parse('0 * * * *');
  const start = new Date('2026-01-01T00:00:00Z');
  const end = new Date('2026-01-01T03:00:00Z');

  it('between excludes the start, includes the end and honours the limit', () => {
    expect(hourly.between(start, end, 10).map((d) => d.toISOString())).toEqual([
      '2026-01-01T01:00:00.000Z',
      '2026-01-01T02:00:00.000Z',
      '2026-01-01T03:00:00.000Z',
    ]);
    expect(hourly.between(start, end, 2)).toHaveLength(2);
    expect(hourly.between(end, start, 10)).toEqual([]);
  });

  it('countBetween counts and stops at the cap', () => {
    const everyMinute = CronSchedule.parse('* * * * *');
    const dayEnd = new Date('2026-01-02T00:00:00Z');
    expect(everyMinute.countBetween(start, dayEnd, 10_000)).toBe(1440);
    expect(everyMinute.countBetween(start, dayEnd, 100)).toBe(100);
    expect(hourly.countBetween(start, end, 0)).toBe(0);
  });

  it('returns whole-second instants', () => {
    const fire = CronSchedule.parse('*/7 * * * * *').next(new Date('2026-01-01T00:00:00.999Z'));
    expect(fire?.getTime()).toBe(new Date('2026-01-01T00:00:07Z').getTime());
  });

  it('exposes expression, timezone and flags', () => {
    const cron = CronSchedule.parse('  0 9 * * MON ', { timezone: 'Europe/Paris' });
    expect(cron.expression).toBe('0 9 * * MON');
    expect(cron.timezone).toBe('Europe/Paris');
    expect(cron.isInterval).toBe(false);
    expect(cron.hasSeconds).toBe(false);
    expect(CronSchedule.parse('0 0 9 * * *').hasSeconds).toBe(true);
    expect(CronSchedule.parse('@daily').timezone).toBe('UTC');
    const every = CronSchedule.parse('@every 90s');
    expect(every.isInterval).toBe(true);
    expect(every.hasSeconds).toBe(true);
    expect(CronSchedule.parse('@every 2m').hasSeconds).toBe(false);
  });

  it('validate returns null for valid expressions', () => {
    expect(CronSchedule.validate('0 0 29 2 *')).toBeNull();
    expect(CronSchedule.validate('0 0 30 2 1')).toBeNull();
    expect(CronSchedule.validate('*/5 * * * *', 'America/New_York')).toBeNull();
    expect(CronSchedule.validate('@every 1h30m')).toBeNull();
  });
});
