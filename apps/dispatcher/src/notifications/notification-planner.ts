import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { NotifyConfig } from '@app/config';
import {
  FAILURE_STATUSES,
  FinishedRun,
  isFinalAttempt,
  JobEntity,
  JobsRepository,
  LedgerPosition,
  NewNotification,
  NotificationsRepository,
  NotifyEvent,
} from '@app/persistence';
import { readJobs } from '../launching/job-reads';
import { NotificationFacts } from './notification-body';
import { effectiveNotify } from './notify-settings';

/** At start, how far back it looks: runs that ended while no dispatcher ran, or just before this one started. */
export const PLANNER_LOOKBACK_MS = 15 * 60_000;
/** A row is read once it is this old: writers' clocks and commit delays stay within it (as the retry repair's). */
export const PLANNER_SETTLE_MS = 10_000;
/** One read covers at most this much of the ledger's (updated_at, id) order, a pass at most MAX_WINDOWS reads. */
const WINDOW_MS = 60_000;
const MAX_WINDOWS = 5;
const PAGE = 500;
/** A row that fails this many passes in a row is passed over (logged), so that it can not hold up the planner. */
const MAX_FAILURES = 3;

/**
 * The events of a finished run: a failure-type status on its final attempt; `missed`; `succeeded` when asked for;
 * `recovered` for a success after a failure-type outcome (`previous` answers the job's previous outcome, asked only
 * when `recovered` is wanted).
 */
export async function eventsOf(
  run: FinishedRun,
  job: JobEntity,
  on: ReadonlySet<NotifyEvent>,
  previous: () => Promise<string | null>,
): Promise<NotifyEvent[]> {
  switch (run.status) {
    case 'failed':
    case 'timed_out':
    case 'lost':
      return on.has(run.status) && isFinalAttempt(run, job) ? [run.status] : [];
    case 'missed':
      return on.has('missed') ? ['missed'] : [];
    case 'succeeded': {
      const out: NotifyEvent[] = [];
      if (on.has('recovered')) {
        const before = await previous();
        if (before !== null && FAILURE_STATUSES.includes(before as never)) out.push('recovered');
      }
      if (on.has('succeeded')) out.push('succeeded');
      return out;
    }
    case 'pending':
    case 'running':
    case 'cancelled':
    case 'skipped':
      return [];
  }
}

export function factsOf(event: NotifyEvent, run: FinishedRun, job: JobEntity): NotificationFacts {
  return {
    event,
    job: { id: job.id, name: job.name, group: job.group },
    run: {
      id: run.id,
      status: run.status,
      scheduledAt: new Date(run.scheduledAt).toISOString(),
      attempt: run.attempt,
      exitCode: run.exitCode,
      httpStatus: run.httpStatus,
      error: run.error,
      durationMs: run.durationMs,
    },
  };
}

/**
 * Records in the outbox the notifications finished runs owe. It reads the ledger in its (updated_at, id) order behind
 * a cursor that only moves forward, a bounded window a read, so its cost is the rows that changed, never the history
 * (the shape of RetryRepair). Every dispatcher plans: a row is recorded under its (run, event, channel) key with
 * insert-or-ignore, so several planners, or one restarted within its look-back, record each event once; its
 * delivery id is the first recorder's.
 */
export class NotificationPlanner {
  private readonly logger = new Logger(NotificationPlanner.name);
  private cursor: LedgerPosition;
  private stuck: { id: number; failures: number } | null = null;

  constructor(
    private readonly outbox: NotificationsRepository,
    private readonly jobs: JobsRepository,
    private readonly defaults: NotifyConfig,
    from = Date.now() - PLANNER_LOOKBACK_MS,
  ) {
    this.cursor = { at: from, id: 0 };
  }

  /** Where it has read up to (LeaderPass stores it). */
  position(): LedgerPosition {
    return this.cursor;
  }

  /** Reads on from `position` (a new leader, from the stored position: LeaderPass). */
  resumeFrom(position: LedgerPosition): void {
    this.cursor = position;
  }

  /** Answers how many rows it offered to the outbox (recorded or already there). */
  async pass(now: number): Promise<number> {
    const until = now - PLANNER_SETTLE_MS;
    let offered = 0;
    for (let w = 0; w < MAX_WINDOWS && !this.readUpTo(until); w++) {
      const read = await this.window(Math.min(until, this.cursor.at + WINDOW_MS), now);
      offered += read.offered;
      if (!read.complete) break;
    }
    return offered;
  }

  private readUpTo(at: number): boolean {
    return this.cursor.at > at || (this.cursor.at === at && this.cursor.id === Number.MAX_SAFE_INTEGER);
  }

  private async window(upTo: number, now: number): Promise<{ complete: boolean; offered: number }> {
    const rows = await this.outbox.findFinished(this.cursor, upTo, PAGE);
    const { jobs } = await readJobs(this.jobs, [...new Set(rows.map((r) => r.jobId))]);
    let offered = 0;
    for (const row of rows) {
      try {
        offered += await this.plan(row, jobs.get(row.jobId), now);
        this.stuck = null;
      } catch (e) {
        if (this.holdsUp(row, e as Error)) return { complete: false, offered };
      }
      this.cursor = { at: row.updatedAt, id: row.id };
    }
    if (rows.length === PAGE) return { complete: false, offered };
    this.cursor = { at: upTo, id: Number.MAX_SAFE_INTEGER };
    return { complete: true, offered };
  }

  private async plan(run: FinishedRun, job: JobEntity | undefined, now: number): Promise<number> {
    // A deleted job's runs end cancelled; one read after its deletion notifies nobody (its settings are gone).
    if (!job) return 0;
    const settings = effectiveNotify(job.notify, this.defaults);
    if (settings.targets.length === 0 || settings.on.size === 0) return 0;
    const events = await eventsOf(run, job, settings.on, () =>
      this.outbox.previousOutcome(run.jobId, run.id, run.tickKey),
    );
    const rows: NewNotification[] = [];
    for (const event of events) {
      const payload = JSON.stringify(factsOf(event, run, job));
      for (const t of settings.targets) {
        rows.push({
          runId: run.id,
          jobId: run.jobId,
          event,
          channel: t.channel,
          deliveryId: randomUUID(),
          target: t.target,
          payload,
        });
      }
    }
    await this.outbox.record(rows, now);
    return rows.length;
  }

  private holdsUp(row: FinishedRun, e: Error): boolean {
    const failures = this.stuck?.id === row.id ? this.stuck.failures + 1 : 1;
    this.stuck = { id: row.id, failures };
    if (failures < MAX_FAILURES) {
      this.logger.warn({ msg: `cannot record the notifications of run ${row.id} yet: ${e.message}`, runId: row.id });
      return true;
    }
    this.logger.error({
      msg: `passing over the notifications of run ${row.id}: ${e.message}`,
      runId: row.id,
      jobId: row.jobId,
    });
    this.stuck = null;
    return false;
  }
}
