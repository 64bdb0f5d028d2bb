import type { CronSchedule } from '@app/cron';
import type { MisfirePolicy, RunTrigger } from '@app/persistence';

/** Most ticks `misfire: all` fires after an outage (contract); older ones are recorded as dropped. */
export const MISFIRE_ALL_LIMIT = 100;
/** A tick this late while the dispatcher runs (a stalled loop, a database outage) counts as misfired too. */
export const MISFIRE_THRESHOLD_MS = 30_000;
/** Bound on ticks enumerated for one catch-up: a year of `@every 1s` must not hang the loop. */
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

/**
 * Due ticks of one job, computed from its ledger cursor (never from timer punctuality) and sorted into those that
 * fire and those the misfire policy drops. A tick is misfired when it fell before this dispatcher started (no
 * dispatcher ran it) or is more than MISFIRE_THRESHOLD_MS late.
 */
export function planTicks(
  schedule: CronSchedule,
  cursor: number,
  now: number,
  startedAt: number,
  policy: MisfirePolicy,
): TickPlan {
  const due = schedule.between(new Date(cursor), new Date(now), ENUMERATION_CAP).map((d) => d.getTime());
  if (due.length === 0) return { fire: [], dropped: null, latest: cursor };
  const capped = due.length === ENUMERATION_CAP;
  const isMisfire = (t: number) => t < startedAt || now - t > MISFIRE_THRESHOLD_MS;
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
