import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { JobEntity, JobsRepository, RunEntity, RunsRepository } from '@app/persistence';
import { Timers } from '../common/timers.service';
import { ExecutorPool } from '../executor-client/executor-pool.service';
import { EventsService } from '../events/events.service';
import { RunCanceller } from './run-canceller.service';
import { RunLauncher } from './run-launcher.service';

const PASS_NAME = 'gocron-pending-runs';
const PASS_MS = 500;
/** After a refusal for capacity, the next pass comes this soon, doubling up to PASS_MS while refusals go on. */
const RETRY_MIN_MS = 25;
/** Runs looked at per pass. */
const PASS_LIMIT = 1000;
const EXPIRE_LIMIT = 500;

/**
 * Runs waiting in the ledger: pending belongs to no dispatcher, so every dispatcher offers them (the executor's
 * compare-and-set lets one start each). Every 500 ms, and as soon as an executor frees capacity: pending runs
 * past their deadline fail with the reason, the others are offered again. Runs executors refused for want of room
 * are offered again sooner (25 ms, doubling while none gets in).
 */
@Injectable()
export class PendingRuns implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PendingRuns.name);
  private running = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = RETRY_MIN_MS;

  constructor(
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly launcher: RunLauncher,
    private readonly canceller: RunCanceller,
    private readonly pool: ExecutorPool,
    private readonly timers: Timers,
    private readonly events: EventsService,
  ) {}

  onApplicationBootstrap(): void {
    this.timers.every(PASS_NAME, PASS_MS, () => this.pass());
    this.pool.onCapacity(() => void this.pass());
    this.launcher.onOffered(({ started, waitingForRoom }) => {
      if (started) this.retryDelayMs = RETRY_MIN_MS;
      if (waitingForRoom) this.retrySoon();
    });
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timers.clearInterval(PASS_NAME);
  }

  /**
   * One pass: fail the overdue, offer the rest. Never overlaps itself. The quick passes after capacity refusals
   * (`full` false) only offer; expiry keeps the regular pace.
   */
  async pass(full = true): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      const now = Date.now();
      if (full) await this.expire(now);
      await this.offerPending(now);
    } catch (e) {
      this.logger.warn(`pending-run pass failed: ${(e as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  private retrySoon(): void {
    if (this.retryTimer || this.stopped) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, PASS_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.pass(false);
    }, delay);
  }

  private async expire(now: number): Promise<void> {
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

  private async offerPending(now: number): Promise<void> {
    const pending = (await this.runs.findOfferable(now, PASS_LIMIT)).filter((r) => !this.launcher.isOffering(r.id));
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
