import { MS_PER_DAY, civilFromDays, daysFromCivil, daysInMonth, weekdayFromDays } from './calendar';
import { CronFields } from './cron-parser';

/**
 * Finds matching wall-clock times, ignoring time zones entirely. Times are "local milliseconds"
 * (the wall time encoded as if it were UTC). The search jumps field by field — month, day, hour,
 * minute, second — using the precomputed "next allowed value" tables, so each call costs a handful
 * of table lookups no matter how sparse the expression is.
 */
export class WallClockMatcher {
  private readonly second: Int16Array;
  private readonly minute: Int16Array;
  private readonly hour: Int16Array;
  private readonly month: Int16Array;
  private readonly dayOfMonth: Int16Array;
  /** weekdayGap[w] = days from weekday w to the next allowed weekday (0 when w itself is allowed). */
  private readonly weekdayGap: Int8Array;
  private readonly useDayOfMonth: boolean;
  private readonly useDayOfWeek: boolean;

  constructor(fields: CronFields) {
    this.second = fields.second.nextAllowed;
    this.minute = fields.minute.nextAllowed;
    this.hour = fields.hour.nextAllowed;
    this.month = fields.month.nextAllowed;
    this.dayOfMonth = fields.dayOfMonth.nextAllowed;
    const weekdays = fields.dayOfWeek.values;
    this.weekdayGap = new Int8Array(7);
    for (let w = 0; w < 7; w++) {
      let gap = 0;
      while (gap < 7 && !weekdays.includes((w + gap) % 7)) {
        gap++;
      }
      this.weekdayGap[w] = gap;
    }
    // Vixie cron: with both day fields restricted a day matches either; an unrestricted one is ignored.
    const domRestricted = !fields.dayOfMonth.unrestricted;
    const dowRestricted = !fields.dayOfWeek.unrestricted;
    this.useDayOfMonth = domRestricted || !dowRestricted;
    this.useDayOfWeek = dowRestricted;
  }

  /**
   * First matching wall time >= `from` (rounded up to a whole second), or null if none falls in a
   * year <= `lastYear`.
   */
  next(from: number, lastYear: number): number | null {
    const start = Math.ceil(from / 1000);
    const startDays = Math.floor(start / 86_400);
    let secondOfDay = start - startDays * 86_400;
    let [year, month, day] = civilFromDays(startDays);
    let hour = Math.floor(secondOfDay / 3600);
    secondOfDay -= hour * 3600;
    let minute = Math.floor(secondOfDay / 60);
    let second = secondOfDay - minute * 60;

    for (;;) {
      if (year > lastYear) {
        return null;
      }
      const nextMonth = this.month[month];
      if (nextMonth < 0) {
        year++;
        month = 1;
        day = 1;
        hour = minute = second = 0;
        continue;
      }
      if (nextMonth !== month) {
        month = nextMonth;
        day = 1;
        hour = minute = second = 0;
      }
      const nextDay = this.nextDay(year, month, day);
      if (nextDay < 0) {
        month++;
        day = 1;
        hour = minute = second = 0;
        continue;
      }
      if (nextDay !== day) {
        day = nextDay;
        hour = minute = second = 0;
      }
      const nextHour = this.hour[hour];
      if (nextHour < 0) {
        day++;
        hour = minute = second = 0;
        continue;
      }
      if (nextHour !== hour) {
        hour = nextHour;
        minute = second = 0;
      }
      const nextMinute = this.minute[minute];
      if (nextMinute < 0) {
        hour++;
        minute = second = 0;
        continue;
      }
      if (nextMinute !== minute) {
        minute = nextMinute;
        second = 0;
      }
      const nextSecond = this.second[second];
      if (nextSecond < 0) {
        minute++;
        second = 0;
        continue;
      }
      return daysFromCivil(year, month, day) * MS_PER_DAY + ((hour * 60 + minute) * 60 + nextSecond) * 1000;
    }
  }

  /** First day >= `day` in the month that satisfies the day rules, or -1. */
  private nextDay(year: number, month: number, day: number): number {
    const length = daysInMonth(year, month);
    if (day > length) {
      return -1;
    }
    let best = 33;
    if (this.useDayOfMonth) {
      const candidate = this.dayOfMonth[day];
      if (candidate >= 0) {
        best = candidate;
      }
    }
    if (this.useDayOfWeek) {
      const candidate = day + this.weekdayGap[weekdayFromDays(daysFromCivil(year, month, day))];
      if (candidate < best) {
        best = candidate;
      }
    }
    return best <= length ? best : -1;
  }
}
