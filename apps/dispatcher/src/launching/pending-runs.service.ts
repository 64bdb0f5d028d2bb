import { Injectable, Logger, Optional } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { JobEntity, JobsRepository, OfferableRun, RunEntity, RunsRepository } from '@app/persistence';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { EventsService } from '../events/events.service';
import { DispatcherMetrics } from '../metrics/dispatcher-metrics';
import { BrokerRuns } from '../broker/broker-runs.service';
import { ShardOwnership } from '../cluster/shard-ownership.service';
import { readJobs } from './job-reads';
import { RunCanceller } from './run-canceller.service';
import { RunLauncher } from './run-launcher.service';

/** Runs offered per pass, all groups together. */
const OFFER_LIMIT = 1000;
/** The least a group is given of a pass; so at most OFFER_LIMIT / MIN_SHARE groups are read per pass. */
const MIN_SHARE = 50;
const EXPIRE_LIMIT = 500;

/**
 * Runs waiting in the ledger: a pending run is offered by the dispatchers planning its job's shard (every
 * dispatcher while etcd is not answering; the executor's compare-and-set lets one start each). A pending run past its deadline fails with the reason; the others are
 * offered again. LaunchLoop decides when.
 *
 * A pass is shared among the groups that have executors: each is read on its own (its oldest offerable runs, up
 * to its share), in an order that turns every pass, and what a group leaves of its share goes to the groups that
 * have more. So a group whose runs can not start (no executor, or executors that refuse) holds back no other
 * group's runs, and a pass offers at most OFFER_LIMIT runs. Every run is handled on its own: one that can not be
 * handled is logged (or failed, when it can never be offered) and the pass goes on.
 */
@Injectable()
export class PendingRuns {
  private readonly logger = new Logger(PendingRuns.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  /** Which group a pass reads first: turns each pass, so no group is always last. */
  private turn = 0;

  constructor(
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly launcher: RunLauncher,
    private readonly canceller: RunCanceller,
    private readonly events: EventsService,
    private readonly pool: ExecutorPool,
    @Optional() private readonly metrics?: DispatcherMetrics,
    @Optional() private readonly broker?: BrokerRuns,
    @Optional() private readonly shards?: ShardOwnership,
  ) {}

  /** The shards whose runs this dispatcher offers and expires: its own (null: all). */
  private shardFilter(): number[] | null {
    return this.shards?.shardFilter() ?? null;
  }

  /** Fails the pending runs no executor took before their deadline. */
  async expire(now: number): Promise<void> {
    for (const run of await this.runs.findExpiredPending(now, EXPIRE_LIMIT, this.shardFilter())) {
      try {
        await this.expireOne(run, now);
      } catch (e) {
        this.failures.warn('expire', `cannot expire pending run ${run.id}: ${(e as Error).message}`);
      }
    }
  }

  private async expireOne(run: RunEntity, now: number): Promise<void> {
    const group = await this.jobs.findById(run.jobId).then(
      (job) => job?.group ?? '?',
      () => '?', // the job can not be read: the run expires all the same
    );
    const ok = await this.runs.finishWithRetry(
      run,
      {
        status: 'failed',
        finishedAt: now,
        error: `no executor of group '${group}' took the run before its deadline (${new Date(run.deadlineAt).toISOString()})`,
      },
      null,
      ['pending'],
    );
    if (ok.finished) {
      this.logger.warn({
        msg: 'pending run expired',
        runId: run.id,
        jobId: run.jobId,
        scheduledAt: new Date(run.scheduledAt).toISOString(),
      });
      this.events.runChanged(run.id);
    }
  }

  /**
   * Offers the pending runs that are due and not being offered already, group by group. Answers whether a backlog is
   * being drained: the pass read as many runs as it may and executors took some of them, so more are likely waiting
   * and executors have been taking them (LaunchLoop then runs the next pass at once, not in 500 ms).
   */
  async offer(now: number): Promise<boolean> {
    const read = await this.readShares(now);
    const pending = read.filter((r) => !this.launcher.isOffering(r.id));
    if (pending.length === 0) return false;
    const { jobs, unreadable } = await readJobs(this.jobs, [...new Set(pending.map((r) => r.jobId))]);
    const ready: { run: OfferableRun; job: JobEntity }[] = [];
    for (const run of pending) {
      const job = jobs.get(run.jobId);
      if (job) {
        ready.push({ run, job });
        continue;
      }
      const why = unreadable.get(run.jobId);
      try {
        if (why === undefined) await this.canceller.cancel(run, 'job deleted');
        else await this.failUnreadable(run, why);
      } catch (e) {
        this.failures.warn(
          'settle',
          `cannot settle pending run ${run.id} of job ${run.jobId}: ${(e as Error).message}`,
        );
      }
    }
    // A backlog (a burst, executors back after an outage) goes out in batches, one call per executor.
    const outcomes = await this.launcher.offer(ready);
    this.metrics?.waitingForRoom.set(outcomes.filter((o) => o === 'waiting').length);
    return read.length >= OFFER_LIMIT && outcomes.includes('started');
  }

  /**
   * This pass's runs: the groups with an executor that takes work, those with room by their last report first,
   * the rest in an order that turns each pass; each group gets an equal share, and the share a group did not use
   * is read, in the same order, for the groups that filled theirs.
   */
  private async readShares(now: number): Promise<OfferableRun[]> {
    const groups = this.groupsToOffer();
    if (groups.length === 0) return [];
    const share = Math.max(MIN_SHARE, Math.ceil(OFFER_LIMIT / groups.length));
    const out = new Map<number, OfferableRun>();
    const fuller: { group: string; afterId: number }[] = [];
    let budget = OFFER_LIMIT;
    const shards = this.shardFilter();
    for (const group of groups) {
      if (budget <= 0) break;
      const limit = Math.min(share, budget);
      const rows = await this.runs.findOfferableFor(group, now, 0, limit, shards);
      for (const r of rows) out.set(r.id, r); // (a run whose job is gone comes with every group)
      budget -= rows.length;
      if (rows.length === limit) fuller.push({ group, afterId: rows[rows.length - 1].id });
    }
    for (const { group, afterId } of fuller) {
      if (budget <= 0) break;
      const rows = await this.runs.findOfferableFor(group, now, afterId, budget, shards);
      for (const r of rows) out.set(r.id, r);
      budget -= rows.length;
    }
    return [...out.values()];
  }

  /**
   * Groups with an executor that is not draining, with room first, each part in an order that turns each pass.
   * Broker groups are not offered here: their runs wait in the broker's queue (BrokerPendingRuns publishes them).
   */
  private groupsToOffer(): string[] {
    const room = new Map<string, boolean>();
    for (const e of this.pool.executors()) {
      if (e.draining || this.broker?.isBrokerGroup(e.group)) continue;
      room.set(e.group, (room.get(e.group) ?? false) || e.running < e.capacity);
    }
    const sorted = [...room.keys()].sort();
    const start = sorted.length === 0 ? 0 : this.turn++ % sorted.length;
    const turned = [...sorted.slice(start), ...sorted.slice(0, start)];
    return [...turned.filter((g) => room.get(g)), ...turned.filter((g) => !room.get(g))].slice(
      0,
      Math.floor(OFFER_LIMIT / MIN_SHARE),
    );
  }

  private async failUnreadable(run: OfferableRun, why: string): Promise<void> {
    const error = `can not be offered: its job ${run.jobId} can not be read (${why})`;
    if (await this.runs.finish(run.id, { status: 'failed', finishedAt: Date.now(), error }, ['pending'])) {
      this.logger.warn({ msg: `run failed: ${error}`, runId: run.id, jobId: run.jobId });
      this.events.runChanged(run.id);
    }
  }
}
