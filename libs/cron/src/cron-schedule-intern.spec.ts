import { CronError } from './cron-error';
import { CronSchedule, clearInternedSchedules, internedScheduleCount } from './cron-schedule';

// parse() interns: a schedule is immutable, so equal requests share one instance. These tests pin down what
// "equal" means (expression + zone, plus the anchor's second for @every) and that sharing changes no answer.

const AFTER = [
  '2026-01-01T00:00:00Z',
  '2026-03-08T06:59:59.500Z', // New York spring forward
  '2026-11-01T05:30:00Z', // New York fall back
  '2027-02-28T23:59:59Z',
].map((iso) => new Date(iso));

function firesOf(schedule: CronSchedule): string[] {
  return AFTER.flatMap((after) => schedule.nextN(after, 5).map((d) => d.toISOString()));
}

describe('CronSchedule interning', () => {
  beforeEach(() => clearInternedSchedules());

  it('hands out one instance for the same expression and zone', () => {
    const a = CronSchedule.parse('0 0 * * * *', { timezone: 'UTC', anchor: new Date(1_000) });
    const b = CronSchedule.parse('0 0 * * * *', { timezone: 'UTC', anchor: new Date(987_654_321) });
    const c = CronSchedule.parse('0 0 * * * *');
    expect(b).toBe(a);
    expect(c).toBe(a); // the default zone is UTC
    expect(internedScheduleCount()).toBe(1);
  });

  it('keeps schedules of different zones or expressions apart', () => {
    const utc = CronSchedule.parse('0 9 * * *', { timezone: 'UTC' });
    const paris = CronSchedule.parse('0 9 * * *', { timezone: 'Europe/Paris' });
    const other = CronSchedule.parse('0 10 * * *', { timezone: 'UTC' });
    expect(paris).not.toBe(utc);
    expect(other).not.toBe(utc);
    expect(paris.timezone).toBe('Europe/Paris');
    expect(paris.next(new Date('2026-01-01T00:00:00Z'))!.toISOString()).toBe('2026-01-01T08:00:00.000Z');
    expect(utc.next(new Date('2026-01-01T00:00:00Z'))!.toISOString()).toBe('2026-01-01T09:00:00.000Z');
  });

  it('does not share @every schedules with different anchors', () => {
    const a = CronSchedule.parse('@every 90s', { anchor: new Date('2026-01-01T00:00:00Z') });
    const b = CronSchedule.parse('@every 90s', { anchor: new Date('2026-01-01T00:00:07Z') });
    expect(b).not.toBe(a);
    expect(a.next(new Date('2026-01-01T00:00:00Z'))!.toISOString()).toBe('2026-01-01T00:01:30.000Z');
    expect(b.next(new Date('2026-01-01T00:00:00Z'))!.toISOString()).toBe('2026-01-01T00:01:37.000Z');
    expect(a.hasSeconds).toBe(true);
  });

  it('shares @every schedules whose anchors fall in the same second (fire times only use the second)', () => {
    const a = CronSchedule.parse('@every 1m', { anchor: new Date('2026-01-01T00:00:00.100Z') });
    const b = CronSchedule.parse('@every 1m', { anchor: new Date('2026-01-01T00:00:00.900Z') });
    const c = CronSchedule.parse('@every 1m', { anchor: new Date('2026-01-01T00:00:01.000Z') });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(a.hasSeconds).toBe(false);
    expect(c.hasSeconds).toBe(true);
  });

  it('answers exactly like a freshly parsed schedule', () => {
    const cases: [string, string, Date | undefined][] = [
      ['0 0 * * * *', 'UTC', undefined],
      ['*/15 * * * *', 'America/New_York', undefined],
      ['30 1 * * *', 'America/New_York', undefined],
      ['0 0 29 2 *', 'Europe/Paris', undefined],
      ['@hourly', 'Australia/Lord_Howe', undefined],
      ['@every 1h30m', 'UTC', new Date('2026-01-01T00:00:12.345Z')],
      ['@every 45s', 'Europe/Paris', new Date('2025-12-31T23:59:59Z')],
    ];
    for (const [expr, timezone, anchor] of cases) {
      const interned = CronSchedule.parse(expr, { timezone, anchor });
      expect(CronSchedule.parse(expr, { timezone, anchor })).toBe(interned);
      clearInternedSchedules();
      const fresh = CronSchedule.parse(expr, { timezone, anchor });
      expect(fresh).not.toBe(interned);
      expect(firesOf(interned)).toEqual(firesOf(fresh));
      expect([interned.expression, interned.timezone, interned.isInterval, interned.hasSeconds]).toEqual([
        fresh.expression,
        fresh.timezone,
        fresh.isInterval,
        fresh.hasSeconds,
      ]);
      const from = new Date('2026-01-01T00:00:00Z');
      const until = new Date('2026-01-03T00:00:00Z');
      expect(interned.between(from, until, 50)).toEqual(fresh.between(from, until, 50));
      expect(interned.countBetween(from, until, 10_000)).toBe(fresh.countBetween(from, until, 10_000));
    }
  });

  it('keeps rejecting invalid input, and caches nothing for it', () => {
    expect(() => CronSchedule.parse('61 * * * *')).toThrow(CronError);
    expect(() => CronSchedule.parse('0 * * * *', { timezone: 'Mars/Olympus' })).toThrow(CronError);
    expect(() => CronSchedule.parse('@every 5s', { anchor: new Date(NaN) })).toThrow('anchor: invalid date');
    expect(internedScheduleCount()).toBe(0);
    // A valid expression does not make a similar-looking invalid one valid.
    CronSchedule.parse('@every 10s', { anchor: new Date(5_000) });
    expect(() => CronSchedule.parse('5:3:UTC@every 10s')).toThrow(CronError);
    expect(() => CronSchedule.parse('@every 10s', { timezone: 'Nowhere/Else', anchor: new Date(5_000) })).toThrow(
      CronError,
    );
  });

  it('an invalid anchor does not matter to a calendar expression, interned or not', () => {
    const fresh = CronSchedule.parse('0 * * * *', { anchor: new Date(NaN) });
    expect(CronSchedule.parse('0 * * * *', { anchor: new Date(NaN) })).toBe(fresh);
    expect(CronSchedule.parse('0 * * * *')).toBe(fresh);
  });

  it('stays bounded: past the cap it starts over, and earlier instances keep working', () => {
    const first = CronSchedule.parse('@every 1s', { anchor: new Date(0) });
    for (let i = 1; i <= 10_000; i++) CronSchedule.parse('@every 1s', { anchor: new Date(i * 1000) });
    expect(internedScheduleCount()).toBeLessThanOrEqual(10_000);
    expect(CronSchedule.parse('@every 1s', { anchor: new Date(0) })).not.toBe(first);
    expect(first.next(new Date(0))!.getTime()).toBe(1000);
  });
});
