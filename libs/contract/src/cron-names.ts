// Words of the cron grammar (CONTRACT.md, Job `cron`): the dispatcher parses them, the dashboard reads them back
// as plain sentences.

/** Each descriptor and the 5-field expression it stands for. */
export const CRON_MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** The month field's names, January first: month m is MONTH_ABBREVIATIONS[m - 1]. */
export const MONTH_ABBREVIATIONS: readonly string[] = [
  'JAN',
  'FEB',
  'MAR',
  'APR',
  'MAY',
  'JUN',
  'JUL',
  'AUG',
  'SEP',
  'OCT',
  'NOV',
  'DEC',
];
/** The day-of-week field's names, Sunday as 0. */
export const WEEKDAY_ABBREVIATIONS: readonly string[] = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** Months in full for messages and sentences, January first. */
export const MONTH_WORDS: readonly string[] = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
/** Weekdays in full, Sunday as 0. */
export const WEEKDAY_WORDS: readonly string[] = [
  'Sunday',
  'Monday',
  'Tuesday',
  'Wednesday',
  'Thursday',
  'Friday',
  'Saturday',
];
