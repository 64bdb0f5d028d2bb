import type { ActiveRunRow, JobEntity, NewRun } from '@app/persistence';
import type { DroppedTicks } from './tick-planner';

/** The ledger's tickKey of a scheduled tick: its instant in whole seconds (the same on every dispatcher). */
export function tickKeyOf(scheduledAt: number): string {
  return String(Math.floor(scheduledAt / 1000));
}

/** What a claim through TickClaimer is for: a scheduled tick, a misfired one, or a dependency occasion. */
export type ClaimTrigger = 'schedule' | 'misfire' | 'dependency';

/** What claiming one scheduled tick comes to, by the job's concurrency policy and routing. */
export type TickDecision =
  /** The tick already has its record (another dispatcher, or a stale cursor here): nothing to write or cancel. */
  | { kind: 'recorded' }
  /** `forbid` while a run is active: the tick is recorded as `skipped`, with the reason. */
  | { kind: 'skip'; reason: string }
  /**
   * One pending run per executor key (one empty key, except with `broadcast`); with `replace`, the job's active
   * runs of earlier ticks are cancelled once the tick is surely claimed.
   */
  | { kind: 'run'; executorKeys: readonly string[]; replaceEarlier: boolean };

/** What the decision needs to know about the ledger and the executors, read for a whole batch of ticks at once. */
export interface TickFacts {
  /** The job's pending and running runs (read only when its concurrency is not `allow`). */
  active: readonly ActiveRunRow[];
  /** `broadcast` only: whether the tick has any first-attempt record, on any executor key. */
  recorded: boolean;
  /** `broadcast` only: the addresses of the group's executors now. */
  executors: readonly string[];
  /**
   * Whether a `skipped` record covering several ticks (folded `forbid` skips, a dropped range) already covers this
   * tick (read only when its concurrency is not `allow`): the tick is recorded, though not under its own key.
   */
  covered: boolean;
}

// The decisions of almost every tick, shared rather than built per tick (1,000 ticks a second on the claim path).
const RECORDED: TickDecision = Object.freeze({ kind: 'recorded' });
const ONE_RUN: TickDecision = Object.freeze({ kind: 'run', executorKeys: Object.freeze(['']), replaceEarlier: false });
const ONE_RUN_REPLACING: TickDecision = Object.freeze({
  kind: 'run',
  executorKeys: Object.freeze(['']),
  replaceEarlier: true,
});

/**
 * The concurrency and routing policies of a scheduled tick, in one place: every tick of every job is decided here,
 * whether it is claimed alone or with a thousand others.
 */
export function decideTick(job: JobEntity, tickKey: string, facts: TickFacts): TickDecision {
  if (job.concurrency !== 'allow') {
    if (facts.covered || facts.active.some((r) => r.tickKey === tickKey)) return RECORDED;
    const [first] = facts.active;
    // The reason names the run and nothing that changes while it runs: consecutive skips behind one run have the
    // same reason, and are folded into one record by it (TickClaimer).
    if (first && job.concurrency === 'forbid') return { kind: 'skip', reason: skipReason(first.id) };
  }
  const replaceEarlier = job.concurrency === 'replace';
  if (job.routing !== 'broadcast') return replaceEarlier ? ONE_RUN_REPLACING : ONE_RUN;
  // Broadcast rows have one key per executor, so the ledger key alone can not tell that another dispatcher (seeing
  // other executors) already claimed this tick: any record of it counts.
  if (facts.recorded) return RECORDED;
  // No executor up: one row, which waits for one.
  if (facts.executors.length === 0) return replaceEarlier ? ONE_RUN_REPLACING : ONE_RUN;
  return { kind: 'run', executorKeys: [...facts.executors], replaceEarlier };
}

/** Why `forbid` skipped a tick: the run that had not finished. */
export function skipReason(runId: number): string {
  return `run ${runId} of this job had not finished (concurrency: forbid)`;
}

/** The fields of a first-attempt ledger row that come from the tick itself. */
export interface TickRecord {
  tickKey: string;
  scheduledAt: number;
  trigger: NewRun['trigger'];
  status: NewRun['status'];
  executorKey?: string;
  error?: string | null;
  notBefore?: number;
  deadlineAt?: number;
  skippedCount?: number;
  skippedFrom?: number;
}

/** A first-attempt ledger row of the job: what every claim, skip, drop and miss record is written as. */
export function ledgerRow(
  job: Pick<JobEntity, 'id' | 'timeoutMs'>,
  tick: TickRecord,
  dispatcherId: string | null,
): NewRun {
  return {
    jobId: job.id,
    tickKey: tick.tickKey,
    attempt: 1,
    executorKey: tick.executorKey ?? '',
    scheduledAt: tick.scheduledAt,
    trigger: tick.trigger,
    status: tick.status,
    notBefore: tick.notBefore,
    deadlineAt: tick.deadlineAt ?? tick.scheduledAt + job.timeoutMs,
    dispatcherId,
    error: tick.error ?? null,
    ...(tick.skippedCount !== undefined
      ? { skippedCount: tick.skippedCount, skippedFrom: tick.skippedFrom ?? null }
      : {}),
  };
}

/**
 * The one `skipped` record of the ticks a misfire policy drops, naming their range and count. It is written under
 * the ledger key of the range's first tick, the key a claim of that tick would take (TickClaimer.claimRange), and
 * its `scheduledAt` is the range's last tick: a record whose `scheduledAt` is later than its key's tick covers the
 * ticks up to it.
 */
export function droppedRecord(job: Pick<JobEntity, 'misfire'>, d: DroppedTicks): TickRecord {
  return {
    tickKey: tickKeyOf(d.from),
    scheduledAt: d.to,
    trigger: 'misfire',
    status: 'skipped',
    skippedCount: d.count,
    skippedFrom: d.from,
    error:
      `${d.capped ? 'at least ' : ''}${d.count} missed tick(s) from ${new Date(d.from).toISOString()} to ` +
      `${new Date(d.to).toISOString()} dropped (misfire: ${job.misfire})`,
  };
}

/** The rows a decision writes (none when the tick is already recorded). */
export function rowsOf(
  job: JobEntity,
  at: number,
  trigger: ClaimTrigger,
  decision: TickDecision,
  dispatcherId: string,
  now: number,
  tickKey = tickKeyOf(at),
): NewRun[] {
  const tick = { tickKey, scheduledAt: at, trigger };
  switch (decision.kind) {
    case 'recorded':
      return [];
    case 'skip':
      // A dependency occasion is its own record, never a range: its instant (a parent's finish, in ms) must not
      // cover a scheduled tick of the same job.
      if (trigger === 'dependency') {
        return [ledgerRow(job, { ...tick, status: 'skipped', error: decision.reason }, dispatcherId)];
      }
      // A range of one tick from the start: once a later skip folds into it and its key moves on, a dispatcher that
      // comes to this tick late must still find it covered (TickClaimer reads the ranges before deciding).
      return [
        ledgerRow(
          job,
          { ...tick, status: 'skipped', error: decision.reason, skippedCount: 1, skippedFrom: at },
          dispatcherId,
        ),
      ];
    case 'run': {
      // A misfired tick is claimed long after its time (an outage, a stall), and a dependency occasion may be claimed
      // late by a pass that caught up: its wait for an executor counts from the claim, or a deadline already past
      // would fail it before it is ever offered.
      const deadlineAt = (trigger === 'schedule' ? at : Math.max(at, now)) + job.timeoutMs;
      return decision.executorKeys.map((executorKey) =>
        ledgerRow(job, { ...tick, status: 'pending', executorKey, notBefore: now, deadlineAt }, dispatcherId),
      );
    }
  }
}
