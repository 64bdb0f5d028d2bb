import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { LogThrottle, shardOf } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { CronSchedule } from '@app/cron';
import { hasSchedule, JobEntity, JobsRepository } from '@app/persistence';
import { ShardChange, ShardOwnership } from '../cluster/shard-ownership.service';
import { ChangeFeed } from '../common/change-feed';
import { Timers } from '../common/timers.service';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { EventsService } from '../events/events.service';
import { DispatcherMetrics } from '../metrics/dispatcher-metrics';
import { DueQueue } from './due-queue';
import { JobChangeBus } from './job-change-bus';
import { JobCursors } from './job-cursors';
import { JobMailboxes } from './job-mailbox';
import { TickAnswer, TickClaimer } from './tick-claimer';
import { MisfireRule, planTicks, TickPlan } from './tick-planner';

const DUE_TIMEOUT = 'gocron-due-queue';
const RECONCILE_INTERVAL = 'gocron-reconcile';
/** How often a dispatcher compares its jobs with the database: the safety net for changes made elsewhere. */
const RECONCILE_MS = 1000;
/** When another dispatcher holds a tick's lock, look again this soon. */
const CONTENDED_RETRY_MS = 500;
/** Jobs read a page at a time at start. */
const LOAD_PAGE = 5000;
/**
 * Dispatchers' clocks and commit delays stay within this; a change is applied once either way. Longer than a write's
 * busy/deadlock retry budget (10 s), since a job's updated_at is stamped before its write is retried.
 */
const CHANGE_SETTLE_MS = 15_000;
/** Tombstones of deleted jobs are kept this long (every reconcile has read them by then), pruned now and then. */
const TOMBSTONE_KEEP_MS = 24 * 3600_000;
const PRUNE_EVERY_RECONCILES = 600;
/**
 * Once an hour every enabled job's version is compared with this dispatcher's copy (a page at a time), and every
 * scheduled job missing from the database is read again: the safety net under the change feeds (a change lost to a
 * bug, a dispatcher asleep longer than the tombstones are kept), at a cost per hour, not per second.
 */
const RESYNC_EVERY_RECONCILES = 3600;
/** Ids of deleted jobs remembered, so that a stale read of one in flight can not schedule it again. */
const MAX_DELETED_REMEMBERED = 100_000;

interface ScheduledJob {
  job: JobEntity;
  /** Its shard (shardOf), kept so that a shard's jobs are found without hashing every job. */
  shard: number;
  /** Null: the job has no cron (its parents start it); it is known here but never planned. */
  schedule: CronSchedule | null;
}

/**
 * Schedules enabled jobs: their next fire times in one due queue behind one timer, one mailbox per job. A due job's
 * ticks since its ledger cursor (JobCursors) are planned by the misfire policy (planTicks) and claimed through the
 * claim pipeline (TickClaimer), which applies the concurrency policy and hands the runs to the executors. So
 * `scheduledAt` is the computed instant, and a late timer loses nothing.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SchedulerService.name);
  /** One line per kind of failure every 10 s, with a count, however many jobs fail (a database outage). */
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  private readonly jobs = new Map<number, ScheduledJob>();
  private readonly mailboxes = new JobMailboxes();
  private readonly due: DueQueue;
  /**
   * Ticks before this instant fell while this dispatcher was not running: unless the ledger shows another one at
   * work on the job since, the misfire policy applies to them. (Settable for tests, like the sweeper's.)
   */
  startedAt = Math.floor(Date.now() - process.uptime() * 1000);
  /** `[dispatcher] misfire_threshold`: a tick later than this is the misfire policy's even while we run. */
  private readonly misfireThresholdMs: number;
  /** What changed in `jobs` and which jobs were deleted since the last reconcile: its cost is the changes'. */
  private changes: ChangeFeed<JobEntity> | null = null;
  private deletions: ChangeFeed<{ id: number; deletedAt: number }> | null = null;
  private reconciles = 0;
  /** Jobs known deleted (ids are never reused): apply() refuses them, whatever stale copy arrives later. */
  private readonly deletedIds = new Set<number>();
  private reconciling = false;
  private stopping = false;
  /** Loads of shards this dispatcher gained, one after another, after the first load. */
  private shardLoads: Promise<void>;
  private firstLoadDone: () => void = () => undefined;
  /** Set when the first load starts: shards gained before it are in it (it reads the planned shards then). */
  private firstLoadStarted = false;
  /** Shards gained and not loaded yet: loaded together, one read for several changes in a row. */
  private readonly gainedToLoad = new Set<number>();

  constructor(
    private readonly jobsRepo: JobsRepository,
    private readonly cursors: JobCursors,
    private readonly claimer: TickClaimer,
    private readonly pool: ExecutorPool,
    private readonly timers: Timers,
    private readonly events: EventsService,
    private readonly bus: JobChangeBus,
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() private readonly metrics?: DispatcherMetrics,
    @Optional() private readonly shards?: ShardOwnership,
  ) {
    this.misfireThresholdMs = config.dispatcher.misfireThresholdSeconds * 1000;
    this.bus.onJobChanged((jobId) => void this.refresh(jobId));
    this.shardLoads = new Promise((resolve) => (this.firstLoadDone = resolve));
    this.shards?.onChange((change) => this.shardsChanged(change));
    this.due = new DueQueue(
      (ids) => this.onDue(ids),
      (timer) => this.timers.setTimeout(DUE_TIMEOUT, timer),
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    const started = Date.now();
    // Which shards are this dispatcher's (at most a few seconds; then it plans every job until etcd says).
    await this.shards?.whenDecided();
    this.firstLoadStarted = true;
    await this.reconcile(true);
    this.firstLoadDone();
    this.timers.every(RECONCILE_INTERVAL, RECONCILE_MS, () => this.reconcile(false));
    this.cursors.start();
    this.logger.log(`scheduling ${this.jobs.size} enabled job(s), loaded in ${Date.now() - started} ms`);
  }

  async onApplicationShutdown(): Promise<void> {
    // Queued ticks are dropped, not worked through: their cursor has not moved, so the next start catches them up.
    this.stopping = true;
    this.timers.clearInterval(RECONCILE_INTERVAL);
    this.due.stop();
    await this.mailboxes.drain();
    await this.cursors.flushAll();
  }

  get scheduledCount(): number {
    return this.jobs.size;
  }

  /** Enabled jobs this dispatcher schedules, per executor group. */
  jobsPerGroup(): Map<string, number> {
    const out = new Map<string, number>();
    for (const { job } of this.jobs.values()) out.set(job.group, (out.get(job.group) ?? 0) + 1);
    return out;
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
      this.failures.warn('refresh', {
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
      this.forgetDeleted(jobId);
      return Promise.resolve(this.unschedule(jobId));
    });
  }

  private forgetDeleted(jobId: number): void {
    this.deletedIds.add(jobId);
    if (this.deletedIds.size > MAX_DELETED_REMEMBERED) this.deletedIds.delete(this.deletedIds.values().next().value!);
  }

  /** The hourly safety net (RESYNC_EVERY_RECONCILES): every enabled job's version against ours, a page at a time. */
  private async resync(): Promise<void> {
    const seen = new Set<number>();
    for (let afterId = 0; ;) {
      const page = await this.jobsRepo.findEnabledPage(afterId, LOAD_PAGE, this.shards?.shardFilter() ?? null);
      for (const job of page) {
        seen.add(job.id);
        if (this.jobs.get(job.id)?.job.version !== job.version) void this.upsert(job);
      }
      if (page.length < LOAD_PAGE) break;
      afterId = page[page.length - 1].id;
    }
    // Scheduled here but not enabled there: paused or deleted.
    for (const id of [...this.jobs.keys()]) if (!seen.has(id)) void this.refresh(id);
  }

  private unschedule(jobId: number): void {
    this.drop(jobId);
    this.cursors.forget(jobId);
  }

  /** No longer scheduled here; its cursor stays until written (see shardsChanged). */
  private drop(jobId: number): void {
    this.jobs.delete(jobId);
    this.due.delete(jobId);
    this.pool.forgetJob(jobId);
  }

  /**
   * Shards moved (ShardOwnership). Lost ones: their jobs leave the due queue through their mailboxes (a tick being
   * claimed finishes first), and their cursors are written before the shard's key is freed, so the next holder
   * starts from them. Gained ones: their enabled jobs are read with their stored cursors; ticks since are then
   * due at once, and a tick the previous holder recorded meanwhile finds its ledger key taken.
   */
  private async shardsChanged({ gained, lost }: ShardChange): Promise<void> {
    if (lost.length > 0) {
      const gone = new Set(lost);
      const ids = [...this.jobs].filter(([, e]) => gone.has(e.shard)).map(([id]) => id);
      await Promise.all(
        ids.map((id) =>
          this.mailboxes.post(id, 'hand over', () => {
            this.release(id);
            return Promise.resolve();
          }),
        ),
      );
      await this.cursors.writeNow();
    }
    // Not awaited: only the lost shards hold up a handover. Gained during the first load: loaded after it.
    if (gained.length > 0 && this.firstLoadStarted && !this.stopping) {
      for (const n of gained) this.gainedToLoad.add(n);
      this.shardLoads = this.shardLoads.then(() => this.loadGained());
    }
  }

  /** Another dispatcher plans the job now: it leaves here, its last cursor move still to be written. */
  private release(jobId: number): void {
    this.drop(jobId);
    this.cursors.release(jobId);
  }

  private async loadGained(): Promise<void> {
    const shards = [...this.gainedToLoad].filter((n) => this.shards?.plansShard(n) ?? true).sort((a, b) => a - b);
    this.gainedToLoad.clear();
    if (shards.length > 0) await this.loadShards(shards);
  }

  private async loadShards(shards: number[]): Promise<void> {
    if (this.stopping) return;
    const started = Date.now();
    let count = 0;
    for (let afterId = 0; ;) {
      // Shards given on meanwhile (a dispatcher that joined while this one was loading) are not read any further.
      const still = shards.filter((n) => this.shards?.plansShard(n) ?? true);
      if (still.length === 0 || this.stopping) break;
      let page: JobEntity[];
      try {
        page = await this.jobsRepo.findEnabledPage(afterId, LOAD_PAGE, still);
      } catch (e) {
        // The hourly resync (and every change) would bring them in later: retry sooner, from where it stopped.
        this.failures.warn('shard-load', `loading gained shards failed, retrying in 1 s: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
        if (this.stopping) return;
        continue;
      }
      // Straight in when nothing is queued for the job (a shard's worth of jobs would otherwise be a promise each).
      for (const job of page) {
        if (this.mailboxes.busy(job.id)) void this.upsert(job);
        else this.apply(job);
      }
      count += page.length;
      if (page.length < LOAD_PAGE) break;
      afterId = page[page.length - 1].id;
    }
    this.logger.log(
      `took over ${shards.length} shard(s): ${count} enabled job(s) loaded in ${Date.now() - started} ms`,
    );
  }

  private apply(job: JobEntity): void {
    if (this.deletedIds.has(job.id)) return;
    const current = this.jobs.get(job.id);
    if (current && current.job.version > job.version) return; // a stale copy
    if (!job.enabled) return this.unschedule(job.id);
    // Another dispatcher's shard: it plans the job (a changed copy may come here through the change feeds).
    const shard = shardOf(job.id);
    if (this.shards && !this.shards.plansShard(shard)) return this.release(job.id);
    if (!hasSchedule(job)) {
      // Known (so its version is compared like any enabled job's, and it counts for its group) but never due.
      this.due.delete(job.id);
      this.cursors.forget(job.id);
      this.jobs.set(job.id, { job, shard, schedule: null });
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
    const cursor = this.cursors.load(job.id, job.lastTickAt);
    this.jobs.set(job.id, { job, shard, schedule });
    const next = schedule.next(new Date(cursor));
    this.due.set(job.id, next ? next.getTime() : null);
  }

  private onDue(ids: number[]): void {
    for (const id of ids) void this.mailboxes.post(id, 'tick', () => this.catchUp(id));
  }

  /**
   * Claims every due tick of the job since its cursor, per its misfire and concurrency policies, walking the ticks
   * in order: a dropped range first (under its first tick's key), then each tick to fire. When a key turns out to
   * be taken by a dropped range another dispatcher recorded, the walk jumps to that range's end and plans again, so
   * no tick inside it is ever claimed (README, "Scheduling").
   */
  private async catchUp(id: number): Promise<void> {
    const entry = this.jobs.get(id);
    if (!entry || this.stopping) return;
    const { job, schedule } = entry;
    if (!schedule) return;
    const now = Date.now();
    const rearm = (at: number | null) => {
      if (this.jobs.get(id) === entry) this.due.set(id, at); // not when replaced or removed meanwhile
    };
    /** The walk got to `tickAt` (every tick up to it is recorded); the job is due again at `dueAt`. */
    const stopAt = (tickAt: number, dueAt: number | null) => {
      this.advance(id, schedule, tickAt, now);
      rearm(dueAt);
    };
    let walked = this.cursors.of(id);
    try {
      const rule: MisfireRule = { thresholdMs: this.misfireThresholdMs, startedAt: this.startedAt };
      let plan = planTicks(schedule, this.cursors.of(id), now, job.misfire, rule);
      if (isMisfirePlan(plan)) {
        // Before treating ticks as missed, take the ledger's word for the last claimed tick and when it was written:
        // another dispatcher may have run them while this one was away, or be running them now.
        const { seenAt } = await this.cursors.restoreFromLedger(id);
        plan = planTicks(schedule, this.cursors.of(id), now, job.misfire, { ...rule, seenAt });
        walked = this.cursors.of(id);
      }
      if (plan.dropped) {
        const answer = await this.claimer.claimRange(job, plan.dropped);
        this.count(answer, 'skipped', plan.dropped.count);
        // Another dispatcher is claiming the range's first tick: look again shortly, the cursor where it was.
        if (answer.kind === 'held') return stopAt(walked, now + CONTENDED_RETRY_MS);
        // Its first tick has its record (a run, a miss, another dispatcher's range): plan again from there.
        if (answer.kind === 'recorded') return stopAt(answer.through, now);
        walked = plan.dropped.to;
      }
      for (const tick of plan.fire) {
        const answer = await this.claimer.claimTick(job, tick.at, tick.trigger, walked);
        if (tick.trigger === 'misfire' || answer.kind === 'held') this.count(answer, 'run', 1);
        // Another dispatcher holds this tick's lock. It may die before inserting the row, so the cursor stays
        // before the tick and we look again shortly: the tick ends up claimed by someone, late at worst.
        if (answer.kind === 'held') return stopAt(walked, now + CONTENDED_RETRY_MS);
        // The tick opens a range another dispatcher dropped: none of its ticks is ours; plan again past it.
        if (answer.kind === 'recorded' && answer.through > tick.at) return stopAt(answer.through, now);
        walked = tick.at;
      }
      const next = schedule.next(new Date(Math.max(plan.latest, now)));
      stopAt(plan.latest, next ? next.getTime() : null);
    } catch (e) {
      // The database may be down: try again shortly from the last tick seen recorded, so nothing is lost.
      this.failures.warn('tick', { msg: `tick handling failed, retrying in 1 s: ${(e as Error).message}`, jobId: id });
      stopAt(walked, now + 1000);
    }
  }

  /** Counts a late tick handled by the misfire policy here, and a tick whose lock another dispatcher held. */
  private count(answer: TickAnswer, misfire: 'run' | 'skipped', ticks: number): void {
    if (answer.kind === 'held') this.metrics?.lockContended.inc();
    else if (answer.kind === 'claimed') this.metrics?.ticksMisfired.inc({ outcome: misfire }, ticks);
  }

  /** Moves the cursor to `tickAt`, the last tick this pass saw recorded (forward only). */
  private advance(jobId: number, schedule: CronSchedule, tickAt: number, now: number): void {
    const next = schedule.next(new Date(Math.max(tickAt, now)));
    this.cursors.advance(jobId, tickAt, next ? next.getTime() : null);
  }

  /**
   * Brings the scheduled set in line with the database: everything at start, then what changed since the last
   * pass (jobs by (updated_at, id), deletions by their tombstones), so a change made through another dispatcher is
   * live here within about a second even when its pub/sub message was lost, at a cost that does not grow with the
   * number of jobs.
   */
  async reconcile(full: boolean): Promise<void> {
    if (this.reconciling) return;
    this.reconciling = true;
    try {
      if (full || !this.changes || !this.deletions) {
        // The feeds start before the load, so a change made while it runs is read again, not lost.
        const options = { settleMs: CHANGE_SETTLE_MS, pageSize: 1000, maxPages: 20 };
        const changes = new ChangeFeed<JobEntity>(
          (after, upTo, limit) => this.jobsRepo.findChangedAfter(after, upTo, limit),
          (j) => ({ at: j.updatedAt, id: j.id, revision: j.version }),
          options,
        );
        const deletions = new ChangeFeed<{ id: number; deletedAt: number }>(
          (after, upTo, limit) => this.jobsRepo.findDeletedAfter(after, upTo, limit),
          (d) => ({ at: d.deletedAt, id: d.id }),
          options,
        );
        // Straight into the queue, a page at a time: at start no mailbox has anything in it yet.
        for (let afterId = 0; ;) {
          const page = await this.jobsRepo.findEnabledPage(afterId, LOAD_PAGE, this.shards?.shardFilter() ?? null);
          for (const job of page) this.apply(job);
          if (page.length < LOAD_PAGE) break;
          afterId = page[page.length - 1].id;
        }
        this.changes = changes;
        this.deletions = deletions;
        return;
      }
      // Changes first: a job deleted after its change was read is then removed behind it, in its mailbox.
      for (const job of await this.changes.poll()) {
        const mine = this.jobs.get(job.id);
        if (mine && mine.job.version >= job.version) continue;
        if (job.enabled || mine) void this.upsert(job);
      }
      // Always through the mailbox, scheduled here or not: a stale upsert queued before it is then undone, and the
      // id is fenced from later ones.
      for (const { id } of await this.deletions.poll()) void this.remove(id);
      this.reconciles++;
      if (this.reconciles % PRUNE_EVERY_RECONCILES === 0) {
        await this.jobsRepo.pruneTombstones(Date.now() - TOMBSTONE_KEEP_MS);
      }
      if (this.reconciles % RESYNC_EVERY_RECONCILES === 0) await this.resync();
    } catch (e) {
      this.failures.warn('reconcile', `reconcile failed: ${(e as Error).message}`);
      if (full) throw e;
    } finally {
      this.reconciling = false;
    }
  }
}

/** Whether the plan treats any tick as misfired (dropped, or fired late by the policy). */
function isMisfirePlan(plan: TickPlan): boolean {
  return plan.dropped !== null || plan.fire.some((t) => t.trigger === 'misfire');
}
