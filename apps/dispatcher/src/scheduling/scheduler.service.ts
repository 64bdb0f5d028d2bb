import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { APP_CONFIG, AppConfig } from '@app/config';
import { CronSchedule } from '@app/cron';
import { TICK_LOCK, TickLock, tickLockKey } from '@app/locking';
import { JobEntity, JobsRepository, RunBatchRepository, RunEntity, RunsRepository, NewRun } from '@app/persistence';
import { EventsService } from '../events/events.service';
import { CursorWriter } from './cursor-writer';
import { JobChangeBus } from './job-change-bus';
import { JobMailboxes } from './job-mailbox';
import { RunLauncher } from './run-launcher.service';
import { LOCK_TTL_MS, TickClaimer } from './tick-claimer';
import { tickKeyOf } from './tick-keys';
import { planTicks } from './tick-planner';
import { TimerWheel } from './timer-wheel';

const WHEEL_TIMEOUT = 'gocron-timer-wheel';
const RECONCILE_INTERVAL = 'gocron-reconcile';
const CURSOR_FLUSH_INTERVAL = 'gocron-cursor-flush';
/** How often cursors reach the database (they are a hint; the ledger is the truth). */
const CURSOR_FLUSH_MS = 1000;
/** How often a dispatcher compares its jobs with the database: the safety net for changes made elsewhere. */
const RECONCILE_MS = 1000;
/** When another dispatcher holds a tick's lock, look again this soon. */
const CONTENDED_RETRY_MS = 500;

interface ScheduledJob {
  job: JobEntity;
  schedule: CronSchedule;
}

/**
 * Schedules enabled jobs: one timer wheel registered in SchedulerRegistry, one mailbox per job. Each tick is
 * claimed in the ledger (behind the tick lock), then handed to an executor. Due ticks come from the ledger cursor
 * and the cron layer, so `scheduledAt` is the computed instant and a late timer loses nothing.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SchedulerService.name);
  private readonly jobs = new Map<number, ScheduledJob>();
  private readonly mailboxes = new JobMailboxes();
  private readonly wheel: TimerWheel;
  /** Ticks before this instant fell while no dispatcher of ours ran: the misfire policy applies to them. */
  private readonly startedAt = Math.floor(Date.now() - process.uptime() * 1000);
  private fingerprint = '';
  private readonly cursors: CursorWriter;
  private readonly claimer: TickClaimer;
  private reconciling = false;
  private stopping = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(TICK_LOCK) private readonly lock: TickLock,
    private readonly jobsRepo: JobsRepository,
    private readonly runs: RunsRepository,
    private readonly launcher: RunLauncher,
    private readonly registry: SchedulerRegistry,
    private readonly events: EventsService,
    private readonly bus: JobChangeBus,
    batchLedger: RunBatchRepository,
  ) {
    this.claimer = new TickClaimer(lock, batchLedger, launcher, events, config.redis.prefix, config.dispatcher.id);
    this.bus.onJobChanged((jobId) => void this.refresh(jobId));
    this.cursors = new CursorWriter(this.jobsRepo);
    this.wheel = new TimerWheel(
      (ids) => this.onDue(ids),
      (timer) => {
        if (this.registry.doesExist('timeout', WHEEL_TIMEOUT)) this.registry.deleteTimeout(WHEEL_TIMEOUT);
        if (timer) this.registry.addTimeout(WHEEL_TIMEOUT, timer);
      },
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    const started = Date.now();
    await this.reconcile(true);
    this.registry.addInterval(
      RECONCILE_INTERVAL,
      setInterval(() => void this.reconcile(false), RECONCILE_MS),
    );
    this.registry.addInterval(
      CURSOR_FLUSH_INTERVAL,
      setInterval(() => void this.cursors.flush(), CURSOR_FLUSH_MS),
    );
    this.logger.log(`scheduling ${this.jobs.size} enabled job(s), loaded in ${Date.now() - started} ms`);
  }

  async onApplicationShutdown(): Promise<void> {
    // Queued ticks are dropped, not worked through: their cursor has not moved, so the next start catches them up.
    this.stopping = true;
    for (const name of [RECONCILE_INTERVAL, CURSOR_FLUSH_INTERVAL]) {
      if (this.registry.doesExist('interval', name)) this.registry.deleteInterval(name);
    }
    this.wheel.stop();
    await this.mailboxes.drain();
    await this.cursors.flushAll();
  }

  get scheduledCount(): number {
    return this.jobs.size;
  }

  /** A job was created or changed here: schedule its current definition and tell the other dispatchers. */
  async changed(job: JobEntity): Promise<void> {
    await this.upsert(job);
    this.bus.publish(job.id);
  }

  async deleted(jobId: number): Promise<void> {
    await this.remove(jobId);
    this.bus.publish(jobId);
  }

  /** Another dispatcher changed the job: read it again. */
  private async refresh(jobId: number): Promise<void> {
    try {
      const job = await this.jobsRepo.findById(jobId);
      if (job) await this.upsert(job);
      else await this.remove(jobId);
      // So that dashboards watching this dispatcher see changes made through another one.
      this.events.jobChanged(jobId, job ? 'updated' : 'deleted');
    } catch (e) {
      this.logger.warn({
        msg: `refresh after a change elsewhere failed (reconcile will retry): ${(e as Error).message}`,
        jobId,
      });
    }
  }

  /** Schedules the job's current definition (or drops it when disabled), through its mailbox. */
  upsert(job: JobEntity): Promise<void> {
    return this.mailboxes.post(job.id, 'update', () => Promise.resolve(this.apply(job)));
  }

  remove(jobId: number): Promise<void> {
    return this.mailboxes.post(jobId, 'delete', () => {
      this.jobs.delete(jobId);
      this.wheel.delete(jobId);
      this.cursors.forget(jobId);
      return Promise.resolve();
    });
  }

  private apply(job: JobEntity): void {
    const current = this.jobs.get(job.id);
    if (current && current.job.version > job.version) return; // a stale copy
    if (!job.enabled) {
      this.jobs.delete(job.id);
      this.wheel.delete(job.id);
      this.cursors.forget(job.id);
      return;
    }
    let schedule: CronSchedule;
    try {
      schedule = CronSchedule.parse(job.cron, { timezone: job.timezone, anchor: new Date(job.scheduleSetAt) });
    } catch (e) {
      // Only possible for rows written around the API (validated there); never crash the scheduler for one.
      this.logger.error({ msg: `job has an invalid schedule, not scheduled: ${(e as Error).message}`, jobId: job.id });
      return;
    }
    // The stored cursor lags the one in memory (cursors are written once a second); a reset (new schedule, resume)
    // stores `now`, which is ahead of it. So the later of the two is right either way.
    if (current) job.lastTickAt = Math.max(job.lastTickAt, current.job.lastTickAt);
    this.jobs.set(job.id, { job, schedule });
    const next = schedule.next(new Date(job.lastTickAt));
    this.wheel.set(job.id, next ? next.getTime() : null);
  }

  private onDue(ids: number[]): void {
    for (const id of ids) void this.mailboxes.post(id, 'tick', () => this.catchUp(id));
  }

  /** Claims every due tick of the job since its cursor, per its misfire and concurrency policies. */
  private async catchUp(id: number): Promise<void> {
    const entry = this.jobs.get(id);
    if (!entry || this.stopping) return;
    const { job, schedule } = entry;
    const now = Date.now();
    try {
      let plan = planTicks(schedule, job.lastTickAt, now, this.startedAt, job.misfire);
      if (plan.fire.some((t) => t.trigger === 'misfire') || plan.dropped) {
        // Before treating ticks as missed, take the ledger's word for the last claimed tick: another dispatcher
        // may have run them while this one was away (its cursor write can lag its claims).
        const claimed = await this.runs.lastScheduledTick(job.id);
        if (claimed !== null && claimed > job.lastTickAt) {
          job.lastTickAt = claimed;
          plan = planTicks(schedule, job.lastTickAt, now, this.startedAt, job.misfire);
        }
      }
      if (plan.dropped) {
        const d = plan.dropped;
        await this.claim(job, {
          tickKey: `misfire:${tickKeyOf(d.from)}-${tickKeyOf(d.to)}`,
          scheduledAt: d.to,
          trigger: 'misfire',
          status: 'skipped',
          error:
            `${d.capped ? 'at least ' : ''}${d.count} missed tick(s) from ${new Date(d.from).toISOString()} to ` +
            `${new Date(d.to).toISOString()} dropped (misfire: ${job.misfire})`,
        });
      }
      for (const tick of plan.fire) {
        if (!(await this.fireTick(job, tick.at, tick.trigger))) {
          // Another dispatcher holds this tick's lock. It may die before inserting the row, so the cursor stays
          // before the tick and we look again shortly: the tick ends up claimed by someone, late at worst.
          this.moveCursor(job, tick.at - 1000, schedule, now);
          if (this.jobs.get(id) === entry) this.wheel.set(id, now + CONTENDED_RETRY_MS);
          return;
        }
      }
      const next = schedule.next(new Date(Math.max(plan.cursor, now)));
      if (plan.cursor > job.lastTickAt) {
        this.cursors.mark(job.id, plan.cursor, next ? next.getTime() : null);
        job.lastTickAt = plan.cursor;
      }
      if (this.jobs.get(id) === entry) this.wheel.set(id, next ? next.getTime() : null);
    } catch (e) {
      // The database may be down: try again shortly; the cursor did not move, so nothing is lost.
      this.logger.warn({ msg: `tick handling failed, retrying in 1 s: ${(e as Error).message}`, jobId: id });
      if (this.jobs.get(id) === entry) this.wheel.set(id, now + 1000);
    }
  }

  /** Moves the cursor to the last tick at or before `upTo` that this pass handled (never backwards). */
  private moveCursor(job: JobEntity, upTo: number, schedule: CronSchedule, now: number): void {
    const handled = schedule.between(new Date(job.lastTickAt), new Date(upTo), 100_000).pop()?.getTime();
    if (handled === undefined || handled <= job.lastTickAt) return;
    const next = schedule.next(new Date(Math.max(handled, now)));
    this.cursors.mark(job.id, handled, next ? next.getTime() : null);
    job.lastTickAt = handled;
  }

  /** Claims one tick; false when another dispatcher holds its lock right now. */
  private async fireTick(job: JobEntity, at: number, trigger: 'schedule' | 'misfire'): Promise<boolean> {
    if (TickClaimer.handles(job)) return this.claimer.fire(job, at, trigger);
    const tickKey = tickKeyOf(at);
    const lockKey = tickLockKey(this.config.redis.prefix, job.id, tickKey, 1);
    if (!(await this.lock.tryAcquire(lockKey, LOCK_TTL_MS))) return false;
    try {
      const base = { tickKey, scheduledAt: at, trigger };
      if (job.concurrency !== 'allow') {
        const active = await this.runs.findActive(job.id);
        // This very tick already has its run (another dispatcher, or a stale cursor here): nothing to do, and
        // above all nothing to cancel.
        if (active.some((r) => r.tickKey === tickKey)) return true;
        if (active.length > 0 && job.concurrency === 'forbid') {
          await this.claim(job, {
            ...base,
            status: 'skipped',
            error: `run ${active[0].id} of this job was still ${active[0].status} (concurrency: forbid)`,
          });
          return true;
        }
      }
      // Broadcast rows have one key per executor, so the ledger key alone can not tell that another dispatcher
      // (seeing other executors) already claimed this tick: look for any record of it first.
      if (job.routing === 'broadcast' && (await this.runs.tickHasRecord(job.id, tickKey))) return true;
      // Broadcast: one row per executor of the group (none up: one row, which waits for an executor).
      const executorKeys = job.routing === 'broadcast' ? this.launcher.executorsFor(job).map((e) => e.address) : [];
      const claimed: RunEntity[] = [];
      for (const executorKey of executorKeys.length > 0 ? executorKeys : ['']) {
        const run = await this.claim(job, { ...base, status: 'pending', executorKey });
        if (run) claimed.push(run);
      }
      if (claimed.length === 0) return true; // another dispatcher claimed this tick
      if (job.concurrency === 'replace') {
        // Only runs of earlier ticks are replaced, and only once this tick is surely ours.
        const older = (await this.runs.findActive(job.id)).filter((r) => r.scheduledAt < at);
        for (const run of older)
          await this.launcher.cancel(run, `replaced by the tick of ${new Date(at).toISOString()}`);
      }
      for (const run of claimed) {
        void this.launcher
          .offer(run, job)
          .catch((e: Error) => this.logger.warn({ msg: `offer failed: ${e.message}`, runId: run.id }));
      }
      return true;
    } finally {
      await this.lock.release(lockKey);
    }
  }

  private async claim(
    job: JobEntity,
    run: Omit<NewRun, 'jobId' | 'attempt' | 'deadlineAt' | 'dispatcherId'>,
  ): Promise<RunEntity | null> {
    const claimed = await this.runs.claim({
      ...run,
      jobId: job.id,
      attempt: 1,
      deadlineAt: run.scheduledAt + job.timeoutMs,
      dispatcherId: this.config.dispatcher.id,
    });
    if (claimed) this.events.runChanged(claimed.id);
    return claimed;
  }

  /**
   * Brings the scheduled set in line with the database: everything at start, then only what changed (a cheap
   * fingerprint first), so a change made through another dispatcher is live here within about a second.
   */
  async reconcile(full: boolean): Promise<void> {
    if (this.reconciling) return;
    this.reconciling = true;
    try {
      const fingerprint = await this.jobsRepo.fingerprint();
      if (!full && fingerprint === this.fingerprint) return;
      if (full) {
        // Straight into the wheel, a page at a time: at start no mailbox has anything in it yet.
        for (let afterId = 0; ;) {
          const page = await this.jobsRepo.findEnabledPage(afterId, 5000);
          for (const job of page) this.apply(job);
          if (page.length < 5000) break;
          afterId = page[page.length - 1].id;
        }
        this.fingerprint = fingerprint;
        return;
      }
      const versions = await this.jobsRepo.versions();
      for (const id of this.jobs.keys()) if (!versions.has(id)) void this.remove(id);
      for (const [id, version] of versions) {
        const mine = this.jobs.get(id);
        if (mine && mine.job.version === version) continue;
        const job = await this.jobsRepo.findById(id);
        if (job && (job.enabled || mine)) void this.upsert(job);
      }
      // Only once the pass succeeded: a failed one is retried on the next tick of the reconcile timer.
      this.fingerprint = fingerprint;
    } catch (e) {
      this.logger.warn(`reconcile failed: ${(e as Error).message}`);
      if (full) throw e;
    } finally {
      this.reconciling = false;
    }
  }
}
