import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { CronSchedule } from '@app/cron';
import { JobEntity, JobsRepository } from '@app/persistence';
import { Timers } from '../common/timers.service';
import { DispatcherMetrics } from '../metrics/dispatcher-metrics';
import { JobCursors } from './job-cursors';
import { TickClaimer } from './tick-claimer';
import { tickKeyOf } from './tick-policy';

const SWEEP_NAME = 'gocron-missed-ticks';
const SWEEP_MS = 15_000;
/** At most this many `missed` records per job and sweep; the rest wait for the next sweep. */
const MAX_PER_JOB = 100;
/** Jobs swept side by side: each one's ticks go one at a time, and the claim pipeline writes a turn's in one go. */
const JOBS_AT_ONCE = 32;

/**
 * The last line against silent misses: every enabled job whose next fire time lies more than `[dispatcher]
 * missed_grace` in the past has a tick nobody claimed. Each such tick is recorded as a `missed` run under the tick's
 * own ledger key, so a scheduler that gets there later finds the key taken instead of running it twice; and it is
 * logged as an error and sent as an event.
 *
 * The grace is longer than the misfire threshold (the config refuses it otherwise), so the scheduler's own catch-up
 * gets to a late tick first; this only catches a job nobody schedules. Like the scheduler, the sweeper walks a job's
 * ticks in order from its ledger cursor and stops at the first key it finds taken: that key may open a range of
 * dropped ticks (recorded under its first tick's key only), and none of those may also be recorded as missed.
 */
@Injectable()
export class MissedTickSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MissedTickSweeper.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private readonly graceMs: number;
  private sweeping = false;
  /**
   * Ticks before this instant fell while this dispatcher was not running: the misfire policy's first. The sweeper
   * leaves a job whose unrecorded ticks start before it alone for one grace period after it, then walks them too.
   */
  watchSince = Math.floor(Date.now() - process.uptime() * 1000);

  constructor(
    private readonly jobs: JobsRepository,
    private readonly cursors: JobCursors,
    private readonly claimer: TickClaimer,
    private readonly timers: Timers,
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() private readonly metrics?: DispatcherMetrics,
  ) {
    this.graceMs = config.dispatcher.missedGraceSeconds * 1000;
  }

  onApplicationBootstrap(): void {
    this.timers.every(SWEEP_NAME, SWEEP_MS, () => this.sweep());
  }

  onApplicationShutdown(): void {
    this.timers.clearInterval(SWEEP_NAME);
  }

  async sweep(now = Date.now()): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let recorded = 0;
    try {
      const overdue = await this.jobs.findOverdue(now - this.graceMs, 500);
      let failure: Error | null = null;
      for (let c = 0; c < overdue.length; c += JOBS_AT_ONCE) {
        const answers = await Promise.allSettled(overdue.slice(c, c + JOBS_AT_ONCE).map((j) => this.sweepJob(j, now)));
        for (const answer of answers) {
          if (answer.status === 'fulfilled') recorded += answer.value;
          else failure ??= answer.reason instanceof Error ? answer.reason : new Error(String(answer.reason));
        }
      }
      // Some records did not make it (the database): the next sweep looks again from the ledger.
      if (failure !== null) throw failure;
    } catch (e) {
      this.failures.warn('sweep', `missed-tick sweep failed: ${(e as Error).message}`);
    } finally {
      this.sweeping = false;
    }
    return recorded;
  }

  /** Records the job's unclaimed ticks older than the grace as missed, oldest first, up to the first one taken. */
  private async sweepJob(job: JobEntity, now: number): Promise<number> {
    let schedule: CronSchedule;
    try {
      schedule = CronSchedule.parse(job.cron, { timezone: job.timezone, anchor: new Date(job.scheduleSetAt) });
    } catch {
      return 0;
    }
    const from = await this.cursors.lastClaimed(job.id, job.lastTickAt);
    const ticks = schedule.between(new Date(from), new Date(now - this.graceMs), MAX_PER_JOB).map((d) => d.getTime());
    if (ticks.length === 0) return 0;
    // Ticks from before this dispatcher started: a starting dispatcher's misfire policy handles them, give it time.
    if (ticks[0] < this.watchSince && now < this.watchSince + this.graceMs) return 0;
    const error = `no dispatcher claimed this tick within ${this.graceMs / 1000} s of its time`;
    let recorded = 0;
    let last: number | undefined;
    for (const at of ticks) {
      const runId = await this.claimer.record(job, {
        tickKey: tickKeyOf(at),
        scheduledAt: at,
        trigger: 'schedule',
        status: 'missed',
        deadlineAt: at,
        error,
      });
      // Taken: claimed meanwhile, recorded by another sweep, or the first tick of a dropped range. Whatever it is,
      // the ticks after it are no longer this sweep's to judge: the next one starts from the ledger again.
      if (runId === null) break;
      recorded++;
      last = at;
      this.metrics?.ticksMissed.inc();
      this.logger.error({ msg: 'tick missed', jobId: job.id, runId, scheduledAt: new Date(at).toISOString() });
    }
    if (last !== undefined) {
      const next = schedule.next(new Date(Math.max(last, now)));
      await this.cursors.store(job.id, last, next ? next.getTime() : null);
    }
    return recorded;
  }
}
