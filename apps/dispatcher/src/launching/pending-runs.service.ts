import { Injectable, Logger } from '@nestjs/common';
import { JobEntity, JobsRepository, RunEntity, RunsRepository } from '@app/persistence';
import { EventsService } from '../events/events.service';
import { RunCanceller } from './run-canceller.service';
import { RunLauncher } from './run-launcher.service';

/** Runs looked at per pass. */
const OFFER_LIMIT = 1000;
const EXPIRE_LIMIT = 500;

/**
 * Runs waiting in the ledger: pending belongs to no dispatcher, so every dispatcher offers them (the executor's
 * compare-and-set lets one start each). A pending run past its deadline fails with the reason; the others are
 * offered again. LaunchLoop decides when.
 */
@Injectable()
export class PendingRuns {
  private readonly logger = new Logger(PendingRuns.name);

  constructor(
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly launcher: RunLauncher,
    private readonly canceller: RunCanceller,
    private readonly events: EventsService,
  ) {}

  /** Fails the pending runs no executor took before their deadline. */
  async expire(now: number): Promise<void> {
    for (const run of await this.runs.findExpiredPending(now, EXPIRE_LIMIT)) {
      const job = await this.jobs.findById(run.jobId);
      const group = job?.group ?? '?';
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
  }

  /** Offers the pending runs that are due and not being offered already. */
  async offer(now: number): Promise<void> {
    const pending = (await this.runs.findOfferable(now, OFFER_LIMIT)).filter((r) => !this.launcher.isOffering(r.id));
    if (pending.length === 0) return;
    const jobs = await this.jobs.findByIds([...new Set(pending.map((r) => r.jobId))]);
    const ready: { run: RunEntity; job: JobEntity }[] = [];
    for (const run of pending) {
      const job = jobs.get(run.jobId);
      if (job) ready.push({ run, job });
      else await this.canceller.cancel(run, 'job deleted');
    }
    // A backlog (a burst, executors back after an outage) goes out in batches, one call per executor.
    await this.launcher.offer(ready);
  }
}
