import { CalendarPlan, HORIZON_YEARS } from './calendar-plan';
import { CronError } from './cron-error';
import { parseExpression } from './cron-parser';
import { FirePlan } from './fire-plan';
import { IntervalPlan } from './interval-plan';
import { explainNeverFires } from './never-fires';
import { zoneRules } from './zone-rules';

export interface CronScheduleOptions {
  /** IANA zone whose wall clock the fields are matched against; default 'UTC'. */
  timezone?: string;
  /** For @every: the instant the schedule was set; default new Date(0). */
  anchor?: Date;
}

const DEFAULT_TIMEZONE = 'UTC';

// Interned schedules. Bounded so that many distinct expressions (or @every anchors) can not grow them forever:
// when full, a cache starts over; schedules already handed out stay valid, they are just no longer shared.
const MAX_INTERNED = 10_000;
const calendarCache = new Map<string, CronSchedule>();
const intervalCache = new Map<string, CronSchedule>();

function remember(cache: Map<string, CronSchedule>, key: string, schedule: CronSchedule): void {
  if (cache.size >= MAX_INTERNED) {
    cache.clear();
  }
  cache.set(key, schedule);
}

/** Forgets every interned schedule (tests). */
export function clearInternedSchedules(): void {
  calendarCache.clear();
  intervalCache.clear();
}

/** How many schedules are interned (tests). */
export function internedScheduleCount(): number {
  return calendarCache.size + intervalCache.size;
}

/** A parsed, validated schedule. Immutable and safe to share; all instants are whole seconds. */
export class CronSchedule {
  private constructor(
    readonly expression: string,
    readonly timezone: string,
    readonly isInterval: boolean,
    readonly hasSeconds: boolean,
    private readonly plan: FirePlan,
  ) {}

  /**
   * The schedule of `expr` in the zone (and, for @every, from the anchor). Interned: a schedule is immutable, so
   * every caller asking for the same expression and zone (plus the same anchor second for @every, whose fire times
   * depend on it) gets the same instance; 100,000 hourly jobs share one.
   * @throws CronError with a human-readable reason.
   */
  static parse(expr: string, options: CronScheduleOptions = {}): CronSchedule {
    const timezone = options.timezone ?? DEFAULT_TIMEZONE;
    if (typeof expr !== 'string' || typeof timezone !== 'string') {
      return CronSchedule.compile(expr, timezone, options.anchor);
    }
    // Only non-interval schedules are stored under the calendar key and only intervals under the anchored one, and
    // an expression is always the same kind, so a hit on the calendar key is right whatever the anchor.
    const calendarKey = `${timezone.length}:${timezone}${expr}`;
    const calendar = calendarCache.get(calendarKey);
    if (calendar !== undefined) {
      return calendar;
    }
    const anchor = options.anchor === undefined ? 0 : anchorMillis(options.anchor);
    const anchorSecond = Math.floor(anchor / 1000);
    const intervalKey = `${anchorSecond}:${calendarKey}`;
    const interval = intervalCache.get(intervalKey);
    if (interval !== undefined) {
      return interval;
    }
    const schedule = CronSchedule.compile(expr, timezone, options.anchor);
    remember(
      schedule.isInterval ? intervalCache : calendarCache,
      schedule.isInterval ? intervalKey : calendarKey,
      schedule,
    );
    return schedule;
  }

  /** parse() without the interning: a new instance every time. */
  private static compile(expr: string, timezone: string, anchorDate: Date | undefined): CronSchedule {
    const parsed = parseExpression(expr);
    const zone = zoneRules(timezone);
    const expression = expr.trim();

    if (parsed.kind === 'interval') {
      const anchor = anchorDate === undefined ? 0 : anchorDate.getTime();
      if (!Number.isFinite(anchor)) {
        throw new CronError('anchor: invalid date');
      }
      // Fire times land on the anchor's seconds, so sub-minute resolution is needed unless both the
      // anchor and the interval are minute-aligned.
      const anchorSecond = Math.floor(anchor / 1000) * 1000;
      const hasSeconds = parsed.intervalMs % 60_000 !== 0 || anchorSecond % 60_000 !== 0;
      return new CronSchedule(expression, timezone, true, hasSeconds, new IntervalPlan(anchor, parsed.intervalMs));
    }

    const plan = new CalendarPlan(parsed.fields, zone);
    if (plan.nextAfter(Date.now()) === null) {
      throw new CronError(
        explainNeverFires(parsed.fields) ??
          `never fires: no matching time within ${HORIZON_YEARS} years in time zone '${timezone}'`,
      );
    }
    return new CronSchedule(expression, timezone, false, parsed.fields.hasSeconds, plan);
  }

  /** Null when the expression is valid in the zone, otherwise the reason it is not. */
  static validate(expr: string, timezone?: string): string | null {
    try {
      CronSchedule.parse(expr, { timezone });
      return null;
    } catch (error) {
      if (error instanceof CronError) {
        return error.message;
      }
      throw error;
    }
  }

  /** First fire instant strictly after `after`; null if none within the search horizon. */
  next(after: Date): Date | null {
    const instant = this.plan.nextAfter(toMillis(after, 'after'));
    return instant === null ? null : new Date(instant);
  }

  nextN(after: Date, count: number): Date[] {
    const result: Date[] = [];
    let cursor: number | null = toMillis(after, 'after');
    while (result.length < count) {
      cursor = this.plan.nextAfter(cursor);
      if (cursor === null) {
        break;
      }
      result.push(new Date(cursor));
    }
    return result;
  }

  /** Fire instants t with afterExclusive < t <= untilInclusive, ascending, at most `limit` of them. */
  between(afterExclusive: Date, untilInclusive: Date, limit: number): Date[] {
    const until = toMillis(untilInclusive, 'untilInclusive');
    const result: Date[] = [];
    let cursor: number | null = toMillis(afterExclusive, 'afterExclusive');
    while (result.length < limit) {
      cursor = this.plan.nextAfter(cursor);
      if (cursor === null || cursor > until) {
        break;
      }
      result.push(new Date(cursor));
    }
    return result;
  }

  /** Number of fire instants in (afterExclusive, untilInclusive], counting no further than `cap`. */
  countBetween(afterExclusive: Date, untilInclusive: Date, cap: number): number {
    if (!(cap > 0)) {
      return 0;
    }
    return this.plan.countBetween(
      toMillis(afterExclusive, 'afterExclusive'),
      toMillis(untilInclusive, 'untilInclusive'),
      cap,
    );
  }
}

/** An anchor's instant; NaN for anything that is not a valid Date (compile() reports it, for @every only). */
function anchorMillis(anchor: Date): number {
  return typeof anchor?.getTime === 'function' ? anchor.getTime() : NaN;
}

function toMillis(date: Date, name: string): number {
  // Duck-typed rather than instanceof so Dates from another realm (vm, worker) are accepted.
  const millis = typeof date?.getTime === 'function' ? date.getTime() : NaN;
  if (!Number.isFinite(millis)) {
    // A programming error rather than a bad expression, hence not a CronError.
    throw new TypeError(`${name} must be a valid Date`);
  }
  return millis;
}
