import type { CronSchedule } from '@app/cron';
import type { MisfirePolicy, RunTrigger } from '@app/persistence';

/** Most ticks `misfire: all` fires after an outage (contract); older ones are recorded as dropped. */
export const MISFIRE_ALL_LIMIT = 100;
/** Bound on ticks enumerated at a time: a year of `@every 1s` must not hang the loop. */
const ENUMERATION_CAP = 100_000;

export interface PlannedTick {
  at: number;
  trigger: Extract<RunTrigger, 'schedule' | 'misfire'>;
}

export interface DroppedTicks {
  from: number;
  to: number;
  count: number;
  /** True when there were more than the enumeration cap: `count` is then a lower bound. */
  capped: boolean;
}

export interface TickPlan {
  fire: PlannedTick[];
  dropped: DroppedTicks | null;
  /** The latest due tick (the cursor when none is due): where the cursor goes once the plan is carried out. */
  latest: number;
}

/** Which due ticks count as misfired, as this dispatcher sees them. */
export interface MisfireRule {
  /** `[dispatcher] misfire_threshold`: a tick later than this is misfired even while dispatchers run. */
  thresholdMs: number;
  /** When this dispatcher started: a tick before it may have fallen while no dispatcher ran. */
  startedAt: number;
  /**
   * When the record at the job's cursor was written, if the ledger says: the latest sign that some dispatcher worked
   * on the job. When it comes after every due tick before this dispatcher's start, one was at work through them all
   * (it may be catching them up right now): they are late, not an outage's, and only the threshold makes one
   * misfired.
   */
  seenAt?: number | null;
}

/**
 * Due ticks of one job, computed from its ledger cursor (never from timer punctuality) and sorted into those that
 * fire and those the misfire policy drops. A tick is misfired when it is more than the threshold late, or fell
 * before this dispatcher started while no dispatcher ran (some due tick before the start is later than the last sign
 * of one in the ledger): then every due tick before the start is.
 *
 * Both rules mark a prefix of the due ticks, so the dropped ones are always the oldest, a dropped range starts at the
 * first tick after the cursor (that tick's ledger key is the range's, see TickClaimer.claimRange), and the ticks to
 * fire are in order: the walk through them never skips ahead of a tick it has not handled.
 */
export function planTicks(
  schedule: CronSchedule,
  cursor: number,
  now: number,
  policy: MisfirePolicy,
  rule: MisfireRule,
): TickPlan {
  const head = enumerate(schedule, cursor, now);
  if (head.length === 0) return { fire: [], dropped: null, latest: cursor };
  // An outage: a due tick before this dispatcher started and after the last sign of one at work on the job.
  const quietFrom = schedule.next(new Date(Math.max(cursor, rule.seenAt ?? -Infinity)))?.getTime();
  const outage = quietFrom !== undefined && quietFrom < rule.startedAt && quietFrom <= now;
  const isMisfire = (t: number) => now - t > rule.thresholdMs || (outage && t < rule.startedAt);
  let due = head;
  let capped = false;
  if (head.length === ENUMERATION_CAP) {
    // More ticks are due than are enumerated at once (a long outage of a frequent job). What a policy fires are the
    // latest ones, so they are taken from the end: at most MISFIRE_ALL_LIMIT misfired ticks, the ones on time (no
    // more than one a second within the threshold) and one more to end the dropped range. All before are misfired
    // and dropped; the ones between the two enumerations are counted as "at least".
    const keep = MISFIRE_ALL_LIMIT + Math.floor(rule.thresholdMs / 1000) + 2;
    const tail = latestTicks(schedule, head[head.length - 1], now, keep);
    due = head.concat(tail.ticks);
    capped = !tail.complete;
  }
  const missed = due.filter(isMisfire);
  const fresh = due.filter((t) => !isMisfire(t));
  const latest = due[due.length - 1];

  let fired: number[];
  switch (policy) {
    case 'skip':
      fired = [];
      break;
    case 'once':
      fired = missed.slice(-1);
      break;
    case 'all':
      fired = missed.slice(-MISFIRE_ALL_LIMIT);
      break;
  }
  const droppedTicks = missed.slice(0, missed.length - fired.length);
  const fire: PlannedTick[] = [
    ...fired.map((at) => ({ at, trigger: 'misfire' as const })),
    ...fresh.map((at) => ({ at, trigger: 'schedule' as const })),
  ];
  const dropped =
    droppedTicks.length > 0
      ? { from: droppedTicks[0], to: droppedTicks[droppedTicks.length - 1], count: droppedTicks.length, capped }
      : null;
  return { fire, dropped, latest };
}

/** Fire times in (after, until], at most ENUMERATION_CAP of them (the earliest). */
function enumerate(schedule: CronSchedule, after: number, until: number): number[] {
  return schedule.between(new Date(after), new Date(until), ENUMERATION_CAP).map((d) => d.getTime());
}

/**
 * At least the latest `n` fire times in (after, until] (all of them when fewer), fewer than ENUMERATION_CAP, and
 * whether they reach back to `after`. The window ending at `until` widens until it holds `n`; one that holds too
 * many to enumerate is narrowed again by halves (each millisecond adds at most one tick, so a width in between
 * exists).
 */
function latestTicks(
  schedule: CronSchedule,
  after: number,
  until: number,
  n: number,
): { ticks: number[]; complete: boolean } {
  let fits = 0; // a width whose ticks are fewer than `n`
  let tooMany = Infinity; // a width whose ticks reach the cap
  let width = 60_000;
  for (;;) {
    const from = Math.max(after, until - width);
    const ticks = enumerate(schedule, from, until);
    if (ticks.length < ENUMERATION_CAP) {
      if (ticks.length >= n || from === after) return { ticks, complete: from === after };
      fits = width;
    } else {
      tooMany = width;
    }
    width = tooMany === Infinity ? width * 2 : Math.floor((fits + tooMany) / 2);
  }
}
