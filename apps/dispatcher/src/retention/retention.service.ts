import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { LogThrottle } from '@app/common';
import { APP_CONFIG, AppConfig, RetentionConfig } from '@app/config';
import { TICK_LOCK, TickLock } from '@app/locking';
import { AgePosition, PRUNE_ROWS_PER_STATEMENT, RetentionRepository, RunLinksRepository } from '@app/persistence';
import { Timers } from '../common/timers.service';
import { DispatcherMetrics } from '../metrics/dispatcher-metrics';

const TIMER = 'gocron-retention';
const DAY_MS = 86_400_000;
/**
 * A run changed this recently is never pruned, whatever the limits say: the retry repair reads the ledger's changes
 * of the last 15 minutes (a failed run whose retry row is missing must still be there for it), and a user looking
 * at a job that just ran finds its runs.
 */
export const PRUNE_MIN_AGE_MS = 20 * 60_000;
/**
 * A pass pauses after every PRUNE_ROWS_PER_STATEMENT rows it wrote or WORK_MS of work, whichever comes first, for as
 * long as that work took (at least PAUSE_MS, at most MAX_PAUSE_MS), and yields to the event loop after every
 * statement: the scheduler's own statements get the database (and, on SQLite, whose driver is synchronous, the
 * process) in between, and pruning takes at most about half of the database's time however slow its statements get
 * (on MariaDB with a buffer pool smaller than the ledger's indexes, deleting by age is disk-bound: docs/benchmarks.md),
 * while a pass over many small jobs is not made of pauses.
 */
const PAUSE_MS = 20;
const MAX_PAUSE_MS = 1000;
const WORK_MS = 50;

/** Paces a pass's writes (see PAUSE_MS). */
class Pacer {
  private rows = 0;
  private since = Date.now();

  async wrote(rows: number): Promise<void> {
    this.rows += rows;
    const worked = Date.now() - this.since;
    if (this.rows >= PRUNE_ROWS_PER_STATEMENT || worked >= WORK_MS) {
      await sleep(Math.min(MAX_PAUSE_MS, Math.max(PAUSE_MS, worked)));
      this.rows = 0;
      this.since = Date.now();
    } else {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
/** Ids read a statement when looking for the jobs that had new runs. */
const SCAN_PAGE = 2000;

export interface PruneCounts {
  deleted: number;
  outputsCleared: number;
  /** Ended notifications older than max_age_days deleted (absent when none). */
  notificationsDeleted?: number;
}

/**
 * Keeps the run ledger bounded ([retention]): per job the newest `max_runs_per_job` runs, the newest
 * `keep_output_runs` of them with their output; and no finished run older than `max_age_days` but a job's latest.
 *
 * Its cost follows what changed, never the history: the per-job limits look only at jobs that had new runs since the
 * last pass (found by reading the ledger's ids forward from where the pass stopped, in pages), plus the jobs a pass
 * had to leave rows of for later; the age limit reads the (updated_at, id) index up to the cutoff, and after the
 * first pass that is a day's worth of rows. Every statement touches at most PRUNE_ROWS_PER_STATEMENT rows by
 * primary key, with a pause after each write, so no statement holds locks long and the scheduler's writes are not
 * kept waiting. Pending and running runs are never touched, nor runs changed in the last PRUNE_MIN_AGE_MS.
 *
 * One dispatcher prunes at a time: a pass runs under the lock `{redis prefix}:lock:retention` (the tick lock's
 * Redis, or in-process). Two passes at once would only repeat each other's work: every write re-checks its rows.
 */
@Injectable()
export class Retention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(Retention.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private readonly limits: RetentionConfig;
  private readonly lockKey: string;
  private running = false;
  private stopped = false;
  /** Every run up to this id has been looked at for the per-job limits. */
  private scannedUpTo = 0;
  /** Jobs a pass left rows of (too young, still active): looked at again by the next pass. */
  private revisit = new Set<number>();
  /** Per job, the id below which every run's output is already gone: the next look starts there. */
  private readonly outputFloor = new Map<number, number>();

  constructor(
    private readonly repo: RetentionRepository,
    private readonly links: RunLinksRepository,
    private readonly timers: Timers,
    @Inject(TICK_LOCK) private readonly lock: TickLock,
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() private readonly metrics?: DispatcherMetrics,
  ) {
    this.limits = config.retention;
    this.lockKey = `${config.redis.prefix}:lock:retention`;
  }

  onApplicationBootstrap(): void {
    const { maxRunsPerJob, maxAgeDays, keepOutputRuns } = this.limits;
    if (maxRunsPerJob === 0 && maxAgeDays === 0 && keepOutputRuns === 0) return;
    this.timers.every(TIMER, this.limits.intervalSeconds * 1000, () => this.pass());
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    this.timers.clearInterval(TIMER);
  }

  /** One pass, if no other is running here or on another dispatcher. */
  async pass(now = Date.now()): Promise<PruneCounts> {
    const counts: PruneCounts = { deleted: 0, outputsCleared: 0 };
    if (this.running) return counts;
    this.running = true;
    // Held for a pass at most: a pass that outlasts it is merely joined by another dispatcher's.
    const ttlMs = Math.max(60_000, this.limits.intervalSeconds * 1000);
    let held = false;
    try {
      [held] = await this.lock.tryAcquireMany([this.lockKey], ttlMs);
      if (!held) return counts;
      const pacer = new Pacer();
      await this.prunePerJob(now, counts, pacer);
      if (this.limits.maxAgeDays > 0) await this.pruneByAge(now, counts, pacer);
      const notes = this.limits.maxAgeDays > 0 ? await this.pruneNotifications(now, pacer) : 0;
      if (notes > 0) counts.notificationsDeleted = notes;
      if (this.limits.maxAgeDays > 0) await this.pruneLinks(now, pacer);
      if (counts.deleted + counts.outputsCleared > 0) {
        this.logger.log(`retention: deleted ${counts.deleted} runs, cleared the output of ${counts.outputsCleared}`);
      }
    } catch (e) {
      this.failures.warn('pass', `retention pass failed (the next one goes on from here): ${(e as Error).message}`);
    } finally {
      this.running = false;
      if (held) await this.lock.releaseMany([this.lockKey]).catch(() => undefined);
    }
    return counts;
  }

  private async prunePerJob(now: number, counts: PruneCounts, pacer: Pacer): Promise<void> {
    const { maxRunsPerJob, keepOutputRuns } = this.limits;
    if (maxRunsPerJob === 0 && keepOutputRuns === 0) return;
    const jobs = this.revisit;
    this.revisit = new Set();
    for (;;) {
      const page = await this.repo.runsAfter(this.scannedUpTo, SCAN_PAGE);
      for (const r of page) jobs.add(r.jobId);
      if (page.length > 0) this.scannedUpTo = page[page.length - 1].id;
      if (page.length < SCAN_PAGE || this.stopped) break;
      await pacer.wrote(0);
    }
    const changedBefore = now - PRUNE_MIN_AGE_MS;
    for (const jobId of jobs) {
      if (this.stopped) return;
      let left = false;
      if (maxRunsPerJob > 0) left = (await this.trimJob(jobId, maxRunsPerJob, changedBefore, counts, pacer)) || left;
      if (keepOutputRuns > 0) {
        left = (await this.clearJobOutput(jobId, keepOutputRuns, changedBefore, counts, pacer)) || left;
      }
      if (left) this.revisit.add(jobId);
    }
  }

  /** Deletes the job's runs beyond its newest `keep`; true when some stay for later. */
  private async trimJob(
    jobId: number,
    keep: number,
    changedBefore: number,
    counts: PruneCounts,
    pacer: Pacer,
  ): Promise<boolean> {
    const boundary = await this.repo.nthNewestId(jobId, keep);
    if (boundary === null) return false;
    for (;;) {
      const ids = await this.repo.settledBelow(jobId, boundary, changedBefore, PRUNE_ROWS_PER_STATEMENT);
      if (ids.length === 0) break;
      const n = await this.repo.deleteRuns(ids, changedBefore);
      counts.deleted += n;
      this.metrics?.runsPruned.inc(n);
      await pacer.wrote(n);
      if (ids.length < PRUNE_ROWS_PER_STATEMENT || this.stopped) break;
    }
    return this.repo.anyBelow(jobId, boundary, false);
  }

  /** Clears the output of the job's runs beyond its newest `keep`; true when some keep theirs for later. */
  private async clearJobOutput(
    jobId: number,
    keep: number,
    changedBefore: number,
    counts: PruneCounts,
    pacer: Pacer,
  ): Promise<boolean> {
    const boundary = await this.repo.nthNewestId(jobId, keep);
    if (boundary === null) return false;
    const floor = this.outputFloor.get(jobId) ?? 0;
    for (;;) {
      const ids = await this.repo.withOutputBelow(jobId, floor, boundary, changedBefore, PRUNE_ROWS_PER_STATEMENT);
      if (ids.length === 0) break;
      const n = await this.repo.clearOutput(ids, changedBefore);
      counts.outputsCleared += n;
      this.metrics?.outputsPruned.inc(n);
      await pacer.wrote(n);
      if (ids.length < PRUNE_ROWS_PER_STATEMENT || this.stopped) break;
    }
    if (await this.repo.anyBelow(jobId, boundary, true)) return true;
    this.outputFloor.set(jobId, boundary);
    return false;
  }

  /** Notifications that ended more than max_age_days ago (their runs are mostly gone by then too). */
  private async pruneNotifications(now: number, pacer: Pacer): Promise<number> {
    const before = now - this.limits.maxAgeDays * DAY_MS;
    let deleted = 0;
    while (!this.stopped) {
      const n = await this.repo.pruneNotifications(before, PRUNE_ROWS_PER_STATEMENT);
      deleted += n;
      await pacer.wrote(n);
      if (n < PRUNE_ROWS_PER_STATEMENT) break;
    }
    return deleted;
  }

  /** Dependency links written more than max_age_days ago: the runs they join are past that age too. */
  private async pruneLinks(now: number, pacer: Pacer): Promise<void> {
    const before = now - this.limits.maxAgeDays * DAY_MS;
    while (!this.stopped) {
      const n = await this.links.pruneBefore(before, PRUNE_ROWS_PER_STATEMENT);
      await pacer.wrote(n);
      if (n < PRUNE_ROWS_PER_STATEMENT) break;
    }
  }

  private async pruneByAge(now: number, counts: PruneCounts, pacer: Pacer): Promise<void> {
    const before = Math.min(now - this.limits.maxAgeDays * DAY_MS, now - PRUNE_MIN_AGE_MS);
    let from: AgePosition = { at: 0, id: 0 };
    while (!this.stopped) {
      const rows = await this.repo.agedOut(before, from, PRUNE_ROWS_PER_STATEMENT);
      if (rows.length === 0) return;
      const n = await this.repo.deleteRuns(
        rows.map((r) => r.id),
        before,
      );
      counts.deleted += n;
      this.metrics?.runsPruned.inc(n);
      const last = rows[rows.length - 1];
      from = { at: last.updatedAt, id: last.id };
      await pacer.wrote(n);
      if (rows.length < PRUNE_ROWS_PER_STATEMENT) return;
    }
  }
}
