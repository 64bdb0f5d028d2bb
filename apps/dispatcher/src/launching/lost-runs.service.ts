import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { APP_CONFIG, AppConfig } from '@app/config';
import { JobsRepository, retryPolicyOf, RunningRun, RunsRepository } from '@app/persistence';
import { ShardOwnership } from '../cluster/shard-ownership.service';
import { staticDownAfterMs } from '../executor-client/executor-client.module';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { EventsService } from '../events/events.service';

/**
 * A running run whose executor has been absent from discovery for two lease TTLs is lost (compare-and-set, so of
 * several dispatchers one records it; each looks at the runs of the shards it plans), then retried per its job, on another executor when one exists. Each run is
 * handled on its own: one that can not be recorded now is tried again next pass, and holds back none of the others.
 */
@Injectable()
export class LostRuns {
  private readonly logger = new Logger(LostRuns.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  /** Since when each executor that running runs name has been missing from discovery. */
  private missingSince = new Map<string, number>();
  /**
   * Executors this dispatcher has listed at least once. One never listed gets one more discovery delay before its
   * runs are lost: an executor of a broker group takes runs from the queue as soon as it starts, possibly before a
   * dispatcher has listed it (a static target is listed at its first probe), which a gRPC offer never does.
   */
  private readonly everListed = new Set<string>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly pool: ExecutorPool,
    private readonly events: EventsService,
    @Optional() private readonly shards?: ShardOwnership,
  ) {}

  /**
   * etcd: the key's DELETE (lease expiry, at most a TTL after death) is final, and one more TTL of grace keeps
   * "lost within 2 TTLs" while absorbing a watch that is briefly behind. Static: the executor is unlisted after
   * staticDownAfterMs without an answer; lost once two TTLs have passed since its last answer.
   */
  private lostAfterMs(): number {
    const ttlMs = this.config.etcd.leaseTtlSeconds * 1000;
    return this.pool.absenceIsFinal ? ttlMs : Math.max(0, 2 * ttlMs - staticDownAfterMs(this.config));
  }

  async find(now: number): Promise<void> {
    // Discovery has not answered since start (etcd down when this dispatcher started), or this dispatcher's copy is
    // stale (its watch is disconnected or re-listing): an absence says nothing now. The clocks already running stay.
    if (!this.pool.listed || !this.pool.current) return;
    const present = new Set(this.pool.executors().map((e) => e.id));
    for (const id of present) this.everListed.add(id);
    const running = await this.runs.findRunningOn(null, this.shards?.shardFilter() ?? null);
    // Only executors that running runs still name are remembered: the map can not outgrow the ledger's running set.
    const missingSince = new Map<string, number>();
    for (const run of running) {
      if (run.executorId && !present.has(run.executorId)) {
        missingSince.set(run.executorId, this.missingSince.get(run.executorId) ?? now);
      }
    }
    this.missingSince = missingSince;
    const lostAfterMs = this.lostAfterMs();
    for (const run of running) {
      if (!run.executorId || present.has(run.executorId)) continue;
      const grace = this.everListed.has(run.executorId) ? 0 : staticDownAfterMs(this.config);
      if (now - missingSince.get(run.executorId)! < lostAfterMs + grace) continue;
      try {
        await this.markLost(run, run.executorId, now);
      } catch (e) {
        this.failures.warn('lost', `cannot mark run ${run.id} lost: ${(e as Error).message}`);
      }
    }
  }

  private async markLost(run: RunningRun, executorId: string, now: number): Promise<void> {
    let error = `executor ${executorId} vanished while the run was running`;
    // A job that can not be read gives no retry policy: the run is lost all the same (nothing else would end it),
    // and RetryRepair gives it its retry once the job can be read.
    const job = await this.jobs.findById(run.jobId).catch((e: Error) => {
      error += `; its job ${run.jobId} could not be read for its retries (${e.message})`;
      return null;
    });
    const { finished, retry } = await this.runs.finishWithRetry(
      run,
      { status: 'lost', finishedAt: now, error },
      job ? retryPolicyOf(job) : null,
    );
    if (finished) {
      this.logger.warn({ msg: 'run lost', runId: run.id, jobId: run.jobId, executorId, retryRunId: retry?.id });
      this.events.runChanged(run.id);
    }
  }
}
