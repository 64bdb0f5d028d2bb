import { MONTH_WORDS } from '@app/contract';
import { maxDaysInMonth } from './calendar';
import { CronFields } from './cron-parser';

/**
 * Explains why an expression can never fire. Only called once the search has already found nothing,
 * so it may be slow; it returns null when the calendar alone does not explain it.
 */
export function explainNeverFires(fields: CronFields): string | null {
  // With a restricted day-of-week every month has a matching day (alone or through the OR rule), so
  // only a day-of-month that no selected month contains can make the calendar impossible.
  if (fields.dayOfMonth.unrestricted || !fields.dayOfWeek.unrestricted) {
    return null;
  }
  const days = fields.dayOfMonth.values;
  const months = fields.month.values;
  if (months.some((month) => days[0] <= maxDaysInMonth(month))) {
    return null;
  }
  const dayText = days.length === 1 ? `day ${days[0]}` : `days ${days.join(', ')}`;
  const verb = days.length === 1 ? 'does' : 'do';
  if (months.length === 1) {
    return `never fires: ${dayText} of ${MONTH_WORDS[months[0] - 1]} ${verb} not exist`;
  }
  const names = months.map((month) => MONTH_WORDS[month - 1]);
  const list = `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
  return `never fires: ${dayText} ${verb} not exist in ${list}`;
}
