import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { CronSchedule } from '@app/cron';
import { JobsRepository } from '@app/persistence';
import { Timers } from '../common/timers.service';
import { JobCursors } from './job-cursors';
import { TickClaimer } from './tick-claimer';
import { tickKeyOf } from './tick-policy';

const SWEEP_NAME = 'gocron-missed-ticks';
const SWEEP_MS = 15_000;
/**
 * A tick with no record this long after it was due is missed. Longer than the misfire threshold (30 s), so the
 * scheduler's own catch-up always gets to record a late tick first; this only catches a job nobody schedules.
 */
export const MISSED_GRACE_MS = 120_000;
/** At most this many `missed` records per job and sweep; the rest wait for the next sweep. */
const MAX_PER_JOB = 100;

/**
 * The last line against silent misses: every enabled job whose next fire time lies more than a grace period in the
 * past has a tick nobody claimed. Each such tick is recorded as a `missed` run under the tick's own ledger key, so
 * a scheduler that gets there later finds the key taken instead of running it twice; and it is logged as an error
 * and sent as an event.
 */
@Injectable()
export class MissedTickSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MissedTickSweeper.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private sweeping = false;
  missedTotal = 0;
  /** Ticks before this instant fell while this dispatcher was not running: the misfire policy's, not ours. */
  watchSince = Math.floor(Date.now() - process.uptime() * 1000);

  constructor(
    private readonly jobs: JobsRepository,
    private readonly cursors: JobCursors,
    private readonly claimer: TickClaimer,
    private readonly timers: Timers,
  ) {}

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
      for (const job of await this.jobs.findOverdue(now - MISSED_GRACE_MS, 500)) {
        let schedule: CronSchedule;
        try {
          schedule = CronSchedule.parse(job.cron, { timezone: job.timezone, anchor: new Date(job.scheduleSetAt) });
        } catch {
          continue;
        }
        const from = Math.max(this.watchSince - 1, await this.cursors.lastClaimed(job.id, job.lastTickAt));
        const ticks = schedule.between(new Date(from), new Date(now - MISSED_GRACE_MS), MAX_PER_JOB);
        const error = `no dispatcher claimed this tick within ${MISSED_GRACE_MS / 1000} s of its time`;
        const answers = await Promise.allSettled(
          ticks.map((d) =>
            this.claimer.record(job, {
              tickKey: tickKeyOf(d.getTime()),
              scheduledAt: d.getTime(),
              trigger: 'schedule',
              status: 'missed',
              deadlineAt: d.getTime(),
              error,
            }),
          ),
        );
        answers.forEach((answer, k) => {
          if (answer.status === 'rejected') return;
          const runId = answer.value;
          if (runId === null) return; // claimed meanwhile, or recorded by another dispatcher's sweep
          recorded++;
          this.missedTotal++;
          this.logger.error({ msg: 'tick missed', jobId: job.id, runId, scheduledAt: ticks[k].toISOString() });
        });
        // Some records did not make it (the database): the next sweep looks again from the stored cursor.
        const failure = answers.find((a): a is PromiseRejectedResult => a.status === 'rejected');
        if (failure) throw failure.reason;
        const last = ticks[ticks.length - 1]?.getTime();
        if (last !== undefined) {
          const next = schedule.next(new Date(Math.max(last, now)));
          await this.cursors.store(job.id, last, next ? next.getTime() : null);
        }
      }
    } catch (e) {
      this.failures.warn('sweep', `missed-tick sweep failed: ${(e as Error).message}`);
    } finally {
      this.sweeping = false;
    }
    return recorded;
  }
}
