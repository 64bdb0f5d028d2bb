import { MS_PER_DAY, yearOf } from './calendar';
import { CronFields } from './cron-parser';
import { FirePlan, MAX_INSTANT } from './fire-plan';
import { WallClockMatcher } from './wall-clock-matcher';
import { ZoneRules } from './zone-rules';

export const HORIZON_YEARS = 30;
// A little over HORIZON_YEARS so that "nothing within 30 years" is never cut short by leap days.
const HORIZON_MS = (HORIZON_YEARS * 366 + 2) * MS_PER_DAY;

/**
 * Cron fields evaluated against wall-clock time in a zone.
 *
 * The timeline is walked one constant-offset span at a time. Inside a span, instants and wall times
 * map one-to-one and in the same order, so the first matching wall time in the span's wall range is
 * the first matching instant. That gives the DST contract directly:
 * - a wall time skipped by a spring-forward gap belongs to no span, so it never fires;
 * - after a fall-back, the span that starts at the transition re-lives some wall times; with a
 *   restricted hour field those are skipped (the job already ran at the first occurrence), while a
 *   literal '*' hour keeps firing through real time, as an hourly job should.
 */
export class CalendarPlan implements FirePlan {
  private readonly matcher: WallClockMatcher;
  private readonly firesInRepeatedHour: boolean;

  constructor(
    fields: CronFields,
    private readonly zone: ZoneRules,
  ) {
    this.matcher = new WallClockMatcher(fields);
    this.firesInRepeatedHour = fields.hour.unrestricted;
  }

  nextAfter(after: number): number | null {
    let from = Math.floor(after / 1000) * 1000 + 1000;
    const horizon = Math.min(from + HORIZON_MS, MAX_INSTANT);
    const lastYear = yearOf(horizon) + 1;
    while (from <= horizon) {
      const span = this.zone.spanAt(from);
      const wall = this.matcher.next(from + span.offset, lastYear);
      if (wall === null) {
        return null;
      }
      const instant = wall - span.offset;
      if (instant >= span.end) {
        from = span.end;
        continue;
      }
      if (!this.firesInRepeatedHour && span.previousOffset > span.offset && wall < span.start + span.previousOffset) {
        from = span.start + (span.previousOffset - span.offset);
        continue;
      }
      return instant <= horizon ? instant : null;
    }
    return null;
  }

  countBetween(after: number, until: number, cap: number): number {
    let count = 0;
    let cursor: number | null = after;
    while (count < cap) {
      cursor = this.nextAfter(cursor);
      if (cursor === null || cursor > until) {
        break;
      }
      count++;
    }
    return count;
  }
}
