import { Logger } from '@nestjs/common';
import type { EndedRun, JobEntity, JobsRepository, LedgerPosition, RunsRepository } from '@app/persistence';
import { retryPolicyOf } from '@app/persistence';
import type { EventsService } from '../events/events.service';
import { readJobs } from './job-reads';

/** At start, how far back it looks: runs that ended while no dispatcher ran, or just before this one started. */
export const RETRY_REPAIR_LOOKBACK_MS = 15 * 60_000;
/** A row is read once it is this old: writers' clocks and commit delays stay within it. */
const SETTLE_MS = 10_000;
/**
 * One read covers at most this much of the ledger's updated_at order, and a pass at most MAX_WINDOWS reads: the
 * look-back is caught up within a few passes, and no read scans more than a minute of changes.
 */
const WINDOW_MS = 60_000;
const MAX_WINDOWS = 5;
const PAGE = 500;
/** A row that fails this many passes in a row is passed over (logged), so that it can not hold up the repair. */
const MAX_FAILURES = 3;

/**
 * Gives its retry to a run that ended with a status a retry is for (`failed`, `timed_out`, `lost`), has retries
 * left and no next attempt. A result and its retry are written in one transaction (RunsRepository.finishWithRetry),
 * so this is the net under everything else: rows an older build wrote in two statements and crashed between, a
 * run lost while its job could not be read, a write made by hand. It reads the ledger in its (updated_at, id)
 * order behind a cursor that only moves forward, a bounded window a read, so its cost is the rows that changed,
 * never the history. Runs that never started (expired or refused while pending) are not retried, as before; nor
 * are runs of a job changed after they ended (the policy they ran under is not known any more).
 *
 * The retry row has its own ledger key: of several dispatchers repairing the same run, and the run's own writer,
 * one claims it.
 */
export class RetryRepair {
  private readonly logger = new Logger(RetryRepair.name);
  private cursor: LedgerPosition;
  private stuck: { id: number; failures: number } | null = null;

  constructor(
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly events: EventsService,
    /** Where it starts reading: runs that ended from then on. */
    from = Date.now() - RETRY_REPAIR_LOOKBACK_MS,
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

  async pass(now: number): Promise<void> {
    const until = now - SETTLE_MS;
    for (let w = 0; w < MAX_WINDOWS && !this.readUpTo(until); w++) {
      if (!(await this.window(Math.min(until, this.cursor.at + WINDOW_MS), now))) return;
    }
  }

  /** Whether every row with updated_at up to `at` has been read. */
  private readUpTo(at: number): boolean {
    return this.cursor.at > at || (this.cursor.at === at && this.cursor.id === Number.MAX_SAFE_INTEGER);
  }

  /** Repairs the rows after the cursor up to `upTo`; false when some are left for the next pass. */
  private async window(upTo: number, now: number): Promise<boolean> {
    const rows = await this.runs.findRetriesOwed(this.cursor, upTo, PAGE);
    const { jobs } = await readJobs(this.jobs, [...new Set(rows.map((r) => r.jobId))]);
    for (const row of rows) {
      try {
        await this.repair(row, jobs.get(row.jobId), now);
        this.stuck = null;
      } catch (e) {
        // The cursor stays before it: the next pass tries again, unless it keeps failing.
        if (this.holdsUp(row, e as Error)) return false;
      }
      this.cursor = { at: row.updatedAt, id: row.id };
    }
    if (rows.length === PAGE) return false;
    this.cursor = { at: upTo, id: Number.MAX_SAFE_INTEGER };
    return true;
  }

  private async repair(row: EndedRun, job: JobEntity | undefined, now: number): Promise<void> {
    // A deleted job (or one whose row can not be read) gives no policy; a job changed since gives another one.
    if (!job || row.attempt > job.retries || job.updatedAt > row.updatedAt) return;
    const retry = await this.runs.claimRetry(row, retryPolicyOf(job), row.finishedAt ?? row.updatedAt, now);
    if (!retry) return;
    this.logger.warn({
      msg: `run ${row.status} without its next attempt: retry claimed`,
      runId: row.id,
      jobId: row.jobId,
      scheduledAt: new Date(row.scheduledAt).toISOString(),
      retryRunId: retry.id,
    });
    this.events.runChanged(retry.id);
  }

  /** Whether the row stops this pass (true) or is passed over after failing too often (false). */
  private holdsUp(row: EndedRun, e: Error): boolean {
    const failures = this.stuck?.id === row.id ? this.stuck.failures + 1 : 1;
    this.stuck = { id: row.id, failures };
    if (failures < MAX_FAILURES) {
      this.logger.warn({ msg: `cannot claim the retry owed to run ${row.id} yet: ${e.message}`, runId: row.id });
      return true;
    }
    this.logger.error({ msg: `passing over the retry owed to run ${row.id}: ${e.message}`, runId: row.id });
    this.stuck = null;
    return false;
  }
}
