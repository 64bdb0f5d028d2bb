import { IANAZone } from 'luxon';
import { MS_PER_DAY, daysFromCivil, yearOf } from './calendar';
import { CronError } from './cron-error';
import { MAX_INSTANT } from './fire-plan';

/** A stretch of time during which a zone's UTC offset is constant. All values in milliseconds. */
export interface OffsetSpan {
  /** First instant of the span (inclusive); may be an artificial year boundary. */
  readonly start: number;
  /** End of the span (exclusive). */
  readonly end: number;
  /** Wall time = instant + offset. */
  readonly offset: number;
  /**
   * Offset in force just before `start`. When it is larger than `offset` the clocks went back at
   * `start`, and wall times in [start + offset, start + previousOffset) are being lived a second time.
   */
  readonly previousOffset: number;
}

export interface ZoneRules {
  spanAt(instant: number): OffsetSpan;
}

class FixedZoneRules implements ZoneRules {
  private readonly span: OffsetSpan;

  constructor(offset: number) {
    this.span = { start: -Infinity, end: Infinity, offset, previousOffset: offset };
  }

  spanAt(): OffsetSpan {
    return this.span;
  }
}

interface Transition {
  readonly at: number;
  readonly before: number;
  readonly after: number;
}

// Year tables are cheap to keep (a few spans each) but the set of years touched is unbounded in
// principle, so the cache is simply reset when it grows past what a running service needs.
const MAX_CACHED_YEARS = 256;

/**
 * Offsets of an IANA zone, tabulated per UTC year. Asking luxon (i.e. Intl) for an offset costs a
 * few microseconds, far too much for a hot path run for every job at start-up, so each year is
 * sampled once at day granularity and the transitions are pinned down to the second by bisection.
 * This assumes offsets never change twice within one day, which holds for every real zone.
 */
class IanaZoneRules implements ZoneRules {
  private readonly years = new Map<number, readonly OffsetSpan[]>();
  private lastSpan: OffsetSpan | undefined;

  constructor(private readonly zone: IANAZone) {}

  spanAt(instant: number): OffsetSpan {
    const last = this.lastSpan;
    if (last !== undefined && instant >= last.start && instant < last.end) {
      return last;
    }
    const spans = this.spansOfYear(yearOf(instant));
    let found = spans[spans.length - 1];
    for (const span of spans) {
      if (instant < span.end) {
        found = span;
        break;
      }
    }
    this.lastSpan = found;
    return found;
  }

  private spansOfYear(year: number): readonly OffsetSpan[] {
    let spans = this.years.get(year);
    if (spans === undefined) {
      if (this.years.size >= MAX_CACHED_YEARS) {
        this.years.clear();
      }
      spans = this.computeYear(year);
      this.years.set(year, spans);
    }
    return spans;
  }

  private computeYear(year: number): readonly OffsetSpan[] {
    const yearStart = daysFromCivil(year, 1, 1) * MS_PER_DAY;
    const yearEnd = daysFromCivil(year + 1, 1, 1) * MS_PER_DAY;
    // Starting two days early catches a clock change just before New Year, whose repeated wall
    // times may spill into this year.
    const transitions: Transition[] = [];
    let previousSample = yearStart - 2 * MS_PER_DAY;
    let previousOffset = this.offsetAt(previousSample);
    for (let sample = previousSample + MS_PER_DAY; sample <= yearEnd; sample += MS_PER_DAY) {
      const offset = this.offsetAt(sample);
      let from = previousSample;
      let fromOffset = previousOffset;
      while (fromOffset !== offset) {
        const at = this.bisect(from, sample, fromOffset);
        const after = this.offsetAt(at);
        transitions.push({ at, before: fromOffset, after });
        from = at;
        fromOffset = after;
      }
      previousSample = sample;
      previousOffset = offset;
    }

    const spans: OffsetSpan[] = [];
    let start = yearStart;
    let offset = this.offsetAt(yearStart);
    let before = offset;
    for (const transition of transitions) {
      if (transition.at >= yearEnd) {
        break;
      }
      if (transition.at <= yearStart) {
        start = transition.at;
        offset = transition.after;
        before = transition.before;
        continue;
      }
      spans.push({ start, end: transition.at, offset, previousOffset: before });
      start = transition.at;
      offset = transition.after;
      before = transition.before;
    }
    spans.push({ start, end: yearEnd, offset, previousOffset: before });
    return spans;
  }

  /** First whole second in (from, to] whose offset differs from `fromOffset`. */
  private bisect(from: number, to: number, fromOffset: number): number {
    let low = from;
    let high = to;
    while (high - low > 1000) {
      const middle = low + Math.floor((high - low) / 2000) * 1000;
      if (this.offsetAt(middle) === fromOffset) {
        low = middle;
      } else {
        high = middle;
      }
    }
    return high;
  }

  private offsetAt(instant: number): number {
    // Samples run a little past the ends of Date's range, where luxon answers NaN and the
    // transition search would never settle; the clamped edge offset is as good as any there.
    const edge = MAX_INSTANT - MS_PER_DAY;
    const minutes = this.zone.offset(Math.min(Math.max(instant, -edge), edge));
    // luxon reports minutes, fractional for historical local-mean-time offsets.
    return Number.isFinite(minutes) ? Math.round(minutes * 60_000) : 0;
  }
}

const UTC_ALIASES = new Set(['utc', 'etc/utc', 'uct', 'etc/uct', 'gmt', 'etc/gmt', 'zulu', 'etc/zulu', 'universal']);
const rulesByZone = new Map<string, ZoneRules>();

/** Shared, cached rules for a zone name; throws CronError for names Intl does not know. */
export function zoneRules(timezone: string): ZoneRules {
  let rules = rulesByZone.get(timezone);
  if (rules === undefined) {
    if (typeof timezone !== 'string' || !IANAZone.isValidZone(timezone)) {
      throw new CronError(
        `timezone: unknown time zone '${String(timezone)}' (expected an IANA name such as 'Europe/Paris')`,
      );
    }
    rules = UTC_ALIASES.has(timezone.toLowerCase())
      ? new FixedZoneRules(0)
      : new IanaZoneRules(IANAZone.create(timezone));
    rulesByZone.set(timezone, rules);
  }
  return rules;
}
