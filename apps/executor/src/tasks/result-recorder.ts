import { Logger } from '@nestjs/common';
import {
  RETRYABLE_STATUSES,
  RetryPolicy,
  RunBatchRepository,
  RunEntity,
  RunResult,
  RunsRepository,
} from '@app/persistence';

/** What recording a result (and claiming its retry) needs of a run. */
export type LedgerKey = Pick<RunEntity, 'id' | 'jobId' | 'tickKey' | 'attempt' | 'executorKey' | 'scheduledAt'>;

interface Pending {
  run: LedgerKey;
  result: RunResult;
  policy: RetryPolicy | null;
  done: () => void;
}

/** Results wait at most this long to share a write with others. */
const FLUSH_AFTER_MS = 5;
/** …or until this many are queued. */
const FLUSH_AT = 256;

/**
 * Writes run results to the ledger, many per transaction: at a thousand runs a second, a write per result kept
 * the executor's event loop (and SQLite's single writer, shared with the dispatcher) busy. A result that may claim
 * a retry goes through RunsRepository.finishWithRetry on its own (it needs the outcome of its own compare-and-set).
 * While the ledger is unreachable, results are kept and retried with back-off; each `record()` resolves once its
 * result is written, so the caller can hold the run's slot until then.
 */
export class ResultRecorder {
  private readonly logger = new Logger(ResultRecorder.name);
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing = false;
  private backoffMs = 0;

  constructor(
    private readonly runs: RunsRepository,
    private readonly batch: RunBatchRepository,
    private readonly executorId: string,
  ) {}

  record(run: LedgerKey, result: RunResult, policy: RetryPolicy | null): Promise<void> {
    return new Promise((done) => {
      this.queue.push({ run, result, policy, done });
      if (this.queue.length >= FLUSH_AT) this.schedule(0);
      else this.schedule(FLUSH_AFTER_MS);
    });
  }

  private schedule(ms: number): void {
    if (this.flushing) return; // the running flush looks at the queue again when it ends
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), Math.max(ms, this.backoffMs));
  }

  private async flush(): Promise<void> {
    this.timer = null;
    this.flushing = true;
    const items = this.queue;
    this.queue = [];
    const failed: Pending[] = [];
    try {
      const mayRetry = (p: Pending) =>
        p.policy !== null && RETRYABLE_STATUSES.includes(p.result.status) && p.run.attempt <= p.policy.retries;
      const plain = items.filter((p) => !mayRetry(p));
      if (plain.length > 0) {
        try {
          const moved = await this.batch.finishMany(plain.map((p) => ({ id: p.run.id, result: p.result })));
          for (const p of plain) this.settle(p, moved.has(p.run.id), null);
        } catch (e) {
          this.warn(plain.length, e);
          failed.push(...plain);
        }
      }
      for (const p of items.filter(mayRetry)) {
        try {
          const { finished, retry } = await this.runs.finishWithRetry(p.run, p.result, p.policy);
          this.settle(p, finished, retry?.id ?? null);
        } catch (e) {
          this.warn(1, e);
          failed.push(p);
        }
      }
    } finally {
      this.backoffMs = failed.length > 0 ? Math.min(Math.max(this.backoffMs * 2, 500), 10_000) : 0;
      this.queue = [...failed, ...this.queue];
      this.flushing = false;
      if (this.queue.length > 0) this.schedule(this.queue.length >= FLUSH_AT ? 0 : FLUSH_AFTER_MS);
    }
  }

  private settle(p: Pending, finished: boolean, retryRunId: number | null): void {
    // Successes at debug (a busy executor finishes hundreds a second); anything else is worth a line.
    const level = finished && p.result.status === 'succeeded' ? 'debug' : 'log';
    this.logger[level]({
      msg: finished ? `run ${p.result.status}` : 'run result ignored: the ledger already has a final status',
      runId: p.run.id,
      jobId: p.run.jobId,
      scheduledAt: new Date(p.run.scheduledAt).toISOString(),
      executorId: this.executorId,
      retryRunId: retryRunId ?? undefined,
    });
    p.done();
  }

  private warn(count: number, e: unknown): void {
    this.logger.warn(
      `cannot record ${count} result(s) yet (${(e as Error).message}); retrying in ${Math.max(this.backoffMs * 2, 500)} ms`,
    );
  }
}
