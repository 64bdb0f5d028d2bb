/**
 * Proleptic Gregorian calendar arithmetic on plain numbers.
 *
 * Wall-clock times are handled as "local milliseconds": the wall time encoded as if it were UTC.
 * Doing the arithmetic by hand (Howard Hinnant's civil-date algorithms) instead of through Date
 * avoids an allocation per step on the hot path and Date.UTC's remapping of years 0-99 to 19xx.
 */

export const MS_PER_SECOND = 1000;
export const MS_PER_DAY = 86_400_000;

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** @param month 1-12 */
export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month];
}

/** Longest length the month can have in any year (February: 29). */
export function maxDaysInMonth(month: number): number {
  return month === 2 ? 29 : DAYS_IN_MONTH[month];
}

/** Days since 1970-01-01 of the given civil date; month 1-12. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const shiftedMonth = month > 2 ? month - 3 : month + 9;
  const dayOfYear = Math.floor((153 * shiftedMonth + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** Civil date of a day count since 1970-01-01, as [year, month 1-12, day 1-31]. */
export function civilFromDays(days: number): [number, number, number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return [year, month, day];
}

/** 0 = Sunday … 6 = Saturday, for a day count since 1970-01-01 (a Thursday). */
export function weekdayFromDays(days: number): number {
  const weekday = (days + 4) % 7;
  return weekday < 0 ? weekday + 7 : weekday;
}

/** UTC calendar year containing the instant (also usable on local milliseconds). */
export function yearOf(ms: number): number {
  return civilFromDays(Math.floor(ms / MS_PER_DAY))[0];
}
