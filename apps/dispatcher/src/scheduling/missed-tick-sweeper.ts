import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { CronSchedule } from '@app/cron';
import { TICK_LOCK, TickLock } from '@app/locking';
import { hasSchedule, JobEntity, JobsRepository, RunsRepository, tickRef } from '@app/persistence';
import { Timers } from '../common/timers.service';
import { DispatcherMetrics } from '../metrics/dispatcher-metrics';
import { JobCursors } from './job-cursors';
import { TickClaimer } from './tick-claimer';
import { tickKeyOf } from './tick-policy';

const SWEEP_NAME = 'gocron-missed-ticks';
const SWEEP_MS = 15_000;
/** Ticks of one job verified a sweep at most, and recorded missed at most; the rest wait for the next sweep. */
const MAX_TICKS_PER_JOB = 1000;
const MAX_MISSED_PER_JOB = 100;
/**
 * Jobs read a page. A sweep reads pages while they are full and moving, for at most SWEEP_BUDGET_MS (the next sweep
 * goes on from there): 100,000 jobs ticking every minute are each verified every minute (docs/benchmarks.md,
 * "The missed-tick watchdog's cost"), where a fixed page count would fall behind.
 */
const PAGE = 500;
const SWEEP_BUDGET_MS = 10_000;
/** Jobs whose missed ticks are recorded side by side (each job's in order; the claim pipeline batches a turn's). */
const JOBS_AT_ONCE = 32;

interface Verdict {
  job: JobEntity;
  /** Null: the job's schedule does not parse (any more); its watermark is let go (null) until a schedule is set. */
  schedule: CronSchedule | null;
  /** The watermark as read, and where it moves once this sweep's ticks are verified (null: no tick left). */
  from: number;
  to: number | null;
  ticks: number[];
}

/**
 * The missed-tick watchdog: every tick of an enabled job has a record. Each job carries a watermark (`verify_from`,
 * its first tick not yet verified); a sweep reads the jobs whose watermark is older than `[dispatcher] missed_grace`
 * (on an index: the jobs with ticks to verify, not all jobs, and never the history), computes their ticks from the
 * watermark to now − grace, and asks the ledger which have a record — under their own key (any attempt, any
 * executor key) or inside a dropped range (a misfire policy's one record for many ticks). A tick with neither is
 * recorded as `missed` under its own key, through the claim pipeline, so a scheduler that gets there later finds the
 * key taken instead of running it twice; it is logged as an error, counted and sent as an event. Holes between
 * claimed ticks are found the same way as ticks after the last one. Then the watermark moves past the verified
 * ticks (compare-and-set: a schedule set or a resume meanwhile wins, and ticks while paused or before the schedule
 * was set are never looked at).
 *
 * One dispatcher sweeps at a time (the lock `{redis prefix}:lock:watchdog`); two at once would only repeat each
 * other's reads, and the ledger's unique key keeps each missed record single. The grace is longer than the misfire
 * threshold (the config refuses it otherwise), so the scheduler's own catch-up gets to a late tick first.
 */
@Injectable()
export class MissedTickSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MissedTickSweeper.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private readonly graceMs: number;
  private readonly lockKey: string;
  private sweeping = false;
  /**
   * Ticks before this instant fell while this dispatcher was not running: the misfire policy's first. The sweeper
   * leaves a job whose unverified ticks start before it alone for one grace period after it, then verifies them too.
   */
  watchSince = Math.floor(Date.now() - process.uptime() * 1000);

  constructor(
    private readonly jobs: JobsRepository,
    private readonly runs: RunsRepository,
    private readonly cursors: JobCursors,
    private readonly claimer: TickClaimer,
    private readonly timers: Timers,
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() @Inject(TICK_LOCK) private readonly lock?: TickLock,
    @Optional() private readonly metrics?: DispatcherMetrics,
  ) {
    this.graceMs = config.dispatcher.missedGraceSeconds * 1000;
    this.lockKey = `${config.redis.prefix}:lock:watchdog`;
  }

  onApplicationBootstrap(): void {
    this.timers.every(SWEEP_NAME, SWEEP_MS, () => this.sweep());
  }

  onApplicationShutdown(): void {
    this.timers.clearInterval(SWEEP_NAME);
  }

  /** One sweep (if none is running here or, with the lock, elsewhere); answers how many ticks it recorded missed. */
  async sweep(now = Date.now()): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let held = false;
    let recorded = 0;
    try {
      if (this.lock) {
        [held] = await this.lock.tryAcquireMany([this.lockKey], Math.max(60_000, SWEEP_MS * 4));
        if (!held) return 0;
      }
      const until = now - this.graceMs;
      const started = Date.now();
      while (Date.now() - started < SWEEP_BUDGET_MS) {
        const due = await this.jobs.findDueForVerification(until, PAGE);
        const moved = await this.verify(due, until, now);
        recorded += moved.recorded;
        // A full page whose watermarks all moved: there may be more behind it. Otherwise this sweep is done.
        if (due.length < PAGE || moved.advanced === 0) break;
      }
    } catch (e) {
      this.failures.warn('sweep', `missed-tick sweep failed: ${(e as Error).message}`);
    } finally {
      this.sweeping = false;
      if (held) await this.lock?.releaseMany([this.lockKey]).catch(() => undefined);
    }
    return recorded;
  }

  private async verify(due: JobEntity[], until: number, now: number): Promise<{ recorded: number; advanced: number }> {
    const verdicts: Verdict[] = [];
    for (const job of due) {
      const v = this.ticksOf(job, until, now);
      if (v) verdicts.push(v);
    }
    const keys = verdicts.flatMap((v) => v.ticks.map((at) => ({ jobId: v.job.id, tickKey: tickKeyOf(at) })));
    const recordedKeys = await this.runs.recordedTicks(keys);
    const open = verdicts
      .map((v) => ({ v, missing: v.ticks.filter((at) => !recordedKeys.has(tickRef(v.job.id, tickKeyOf(at)))) }))
      .filter((o) => o.missing.length > 0);
    if (open.length > 0) {
      const from = Math.min(...open.map((o) => o.missing[0]));
      const ranges = await this.runs.rangesReaching(
        open.map((o) => o.v.job.id),
        from,
      );
      for (const o of open) {
        const covering = ranges.get(o.v.job.id) ?? [];
        o.missing = o.missing.filter((at) => !covering.some(([a, b]) => at >= a && at <= b));
      }
    }
    let recorded = 0;
    const stopped = new Set<Verdict>();
    const work = open.filter((o) => o.missing.length > 0);
    for (let c = 0; c < work.length; c += JOBS_AT_ONCE) {
      const answers = await Promise.allSettled(
        work.slice(c, c + JOBS_AT_ONCE).map((o) => this.recordMissed(o.v, o.missing)),
      );
      answers.forEach((a, i) => {
        // A record that could not be written: the watermark stays, the next sweep looks again.
        if (a.status === 'fulfilled') {
          recorded += a.value.recorded;
          // Stopped at a key taken meanwhile, or at the cap: the watermark moves up to that tick only.
          if (a.value.resumeAt !== null) work[c + i].v.to = a.value.resumeAt;
        } else {
          stopped.add(work[c + i].v);
          this.failures.warn('record', `recording missed ticks failed: ${(a.reason as Error).message}`);
        }
      });
    }
    const advanced = await this.jobs.advanceVerifyFromMany(
      verdicts.filter((v) => !stopped.has(v)).map((v) => ({ id: v.job.id, from: v.from, to: v.to })),
    );
    return { recorded, advanced };
  }

  /** The job's ticks from its watermark up to `until`, and where the watermark goes after them; null to leave it. */
  private ticksOf(job: JobEntity, until: number, now: number): Verdict | null {
    const from = job.verifyFrom;
    if (from === null) return null;
    // No cron (its parents start it): no tick of its own to verify; the watermark is let go.
    if (!hasSchedule(job)) return { job, schedule: null, from, to: null, ticks: [] };
    let schedule: CronSchedule;
    try {
      schedule = CronSchedule.parse(job.cron, { timezone: job.timezone, anchor: new Date(job.scheduleSetAt) });
    } catch (e) {
      // Its watermark would stay and sort first for ever, and a page of such jobs would stop every sweep there.
      this.failures.warn(
        `schedule:${job.id}`,
        `job ${job.id}: schedule does not parse, not verified: ${(e as Error).message}`,
      );
      return { job, schedule: null, from, to: null, ticks: [] };
    }
    // Ticks from before this dispatcher started: a starting dispatcher's misfire policy handles them, give it time.
    if (from < this.watchSince && now < this.watchSince + this.graceMs) return null;
    const ticks = schedule.between(new Date(from - 1), new Date(until), MAX_TICKS_PER_JOB).map((d) => d.getTime());
    const last = ticks.length > 0 ? ticks[ticks.length - 1] : from - 1;
    // Capped: the next sweep goes on after the last tick looked at; otherwise after `until`.
    const next = schedule.next(new Date(ticks.length === MAX_TICKS_PER_JOB ? last : Math.max(last, until)));
    return { job, schedule, from, to: next ? next.getTime() : null, ticks };
  }

  /**
   * Records the job's missed ticks, oldest first, at most MAX_MISSED_PER_JOB. It stops at a key taken since the
   * ledger was read: that record may open a dropped range (recorded under its first tick's key only) that covers the
   * ticks after it, so none of those may be recorded as missed now; the next sweep verifies from that tick, range
   * included. `resumeAt`: where the watermark goes instead of past every tick (null: past them all).
   */
  private async recordMissed(
    { job, schedule }: Verdict,
    missing: number[],
  ): Promise<{ recorded: number; resumeAt: number | null }> {
    if (!schedule) return { recorded: 0, resumeAt: null };
    const error = `no dispatcher claimed this tick within ${this.graceMs / 1000} s of its time`;
    let recorded = 0;
    let last: number | undefined;
    let resumeAt: number | null = null;
    for (const at of missing) {
      if (recorded === MAX_MISSED_PER_JOB) {
        resumeAt = at;
        break;
      }
      const runId = await this.claimer.record(job, {
        tickKey: tickKeyOf(at),
        scheduledAt: at,
        trigger: 'schedule',
        status: 'missed',
        deadlineAt: at,
        error,
      });
      if (runId === null) {
        resumeAt = at;
        break;
      }
      last = at;
      recorded++;
      this.metrics?.ticksMissed.inc();
      this.logger.error({ msg: 'tick missed', jobId: job.id, runId, scheduledAt: new Date(at).toISOString() });
    }
    if (last !== undefined) {
      const next = schedule.next(new Date(Math.max(last, Date.now())));
      // The scheduler plans from its cursor: past the recorded ticks, so it does not try them again.
      await this.cursors.store(job.id, last, next ? next.getTime() : null);
    }
    return { recorded, resumeAt };
  }
}
