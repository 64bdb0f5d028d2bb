import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { JobEntity, JobsRepository, RunEntity, RunsRepository } from '@app/persistence';
import { ShardOwnership } from '../cluster/shard-ownership.service';
import { readJobs } from '../launching/job-reads';
import { RunCanceller } from '../launching/run-canceller.service';
import { RunLauncher } from '../launching/run-launcher.service';
import { BrokerPublisher } from './broker-publisher.service';
import { publishBounds } from './republish-rule';

/** Runs published per pass, at most. */
export const PUBLISH_LIMIT = 1000;

/**
 * The pending pass of broker groups: publishes the due pending runs never confirmed by the broker (their claimer's
 * publish failed or was not confirmed: the broker was down, the dispatcher stopped) or confirmed long ago
 * (REPUBLISH_AFTER_MS), not every pending run, so that a backlog waiting in the queue is not published again each
 * pass. A run whose job is gone is cancelled, as the gRPC pass does. Nothing is read while the broker is down: the
 * runs wait in the ledger (and fail at their deadline, by the expiry pass).
 */
@Injectable()
export class BrokerPendingRuns {
  private readonly logger = new Logger(BrokerPendingRuns.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  /**
   * Where the next pass reads from: after the last row of a pass that read a full window, else from the start. Rows
   * that match on every pass but are never queued (a broadcast target not in discovery, a publish returned) can then
   * not hold the window for good, keeping newer runs from being published (as PendingRuns.readShares does).
   */
  private afterId = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly publisher: BrokerPublisher,
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly launcher: RunLauncher,
    private readonly canceller: RunCanceller,
    @Optional() private readonly shards?: ShardOwnership,
  ) {}

  async pass(now: number): Promise<void> {
    if (!this.publisher.enabled || !this.publisher.connected) return;
    const groups = this.config.rabbitmq.groups.includes('*') ? null : this.config.rabbitmq.groups;
    const read = await this.runs.findPublishable(
      groups,
      now,
      publishBounds(now),
      this.afterId,
      PUBLISH_LIMIT,
      this.shards?.shardFilter() ?? null,
    );
    this.afterId = read.length === PUBLISH_LIMIT ? read[read.length - 1].id : 0;
    const rows = read.filter((r) => !this.launcher.isOffering(r.id));
    if (rows.length === 0) return;
    const { jobs, unreadable } = await readJobs(this.jobs, [...new Set(rows.map((r) => r.jobId))]);
    const ready: { run: RunEntity; job: JobEntity }[] = [];
    for (const run of rows) {
      const job = jobs.get(run.jobId);
      if (job) {
        // With named groups the query read only theirs; with `*` every group is the broker's.
        if (this.publisher.isBrokerGroup(job.group)) ready.push({ run, job });
        continue;
      }
      if (unreadable.has(run.jobId)) continue; // read again next pass
      await this.canceller
        .cancel(run, 'job deleted')
        .catch((e: Error) => this.failures.warn('cancel', `cannot cancel run ${run.id}: ${e.message}`));
    }
    await this.launcher.offer(ready);
  }
}
