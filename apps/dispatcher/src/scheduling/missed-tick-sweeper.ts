import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { APP_CONFIG, AppConfig } from '@app/config';
import { CronSchedule } from '@app/cron';
import { JobsRepository, RunsRepository } from '@app/persistence';
import { EventsService } from '../events/events.service';
import { tickKeyOf } from './tick-keys';

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
  private sweeping = false;
  missedTotal = 0;
  /** Ticks before this instant fell while this dispatcher was not running: the misfire policy's, not ours. */
  watchSince = Math.floor(Date.now() - process.uptime() * 1000);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobsRepository,
    private readonly runs: RunsRepository,
    private readonly registry: SchedulerRegistry,
    private readonly events: EventsService,
  ) {}

  onApplicationBootstrap(): void {
    this.registry.addInterval(
      SWEEP_NAME,
      setInterval(() => void this.sweep(), SWEEP_MS),
    );
  }

  onApplicationShutdown(): void {
    if (this.registry.doesExist('interval', SWEEP_NAME)) this.registry.deleteInterval(SWEEP_NAME);
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
        const from = Math.max(job.lastTickAt, this.watchSince - 1, (await this.runs.lastScheduledTick(job.id)) ?? 0);
        const ticks = schedule.between(new Date(from), new Date(now - MISSED_GRACE_MS), MAX_PER_JOB);
        for (const at of ticks.map((d) => d.getTime())) {
          const run = await this.runs.claim({
            jobId: job.id,
            tickKey: tickKeyOf(at),
            attempt: 1,
            scheduledAt: at,
            trigger: 'schedule',
            status: 'missed',
            deadlineAt: at,
            dispatcherId: this.config.dispatcher.id,
            error: `no dispatcher claimed this tick within ${MISSED_GRACE_MS / 1000} s of its time`,
          });
          if (!run) continue;
          recorded++;
          this.missedTotal++;
          this.events.runChanged(run.id);
          this.logger.error({
            msg: 'tick missed',
            jobId: job.id,
            runId: run.id,
            scheduledAt: new Date(at).toISOString(),
          });
        }
        const last = ticks[ticks.length - 1]?.getTime();
        if (last !== undefined) {
          const next = schedule.next(new Date(Math.max(last, now)));
          await this.jobs.advanceCursor(job.id, last, next ? next.getTime() : null);
        }
      }
    } catch (e) {
      this.logger.warn(`missed-tick sweep failed: ${(e as Error).message}`);
    } finally {
      this.sweeping = false;
    }
    return recorded;
  }
}
