import { Logger } from '@nestjs/common';
import { logsDebug } from '@app/common';
import {
  LedgerKey,
  RETRYABLE_STATUSES,
  RetryPolicy,
  RunBatchRepository,
  RunResult,
  RunsRepository,
} from '@app/persistence';

interface Pending {
  run: LedgerKey;
  result: RunResult;
  policy: RetryPolicy | null;
  done: () => void;
  /** Failed writes of this result on its own. */
  soloFailures: number;
}

/** A result that failed this often on its own is written without its output (the likely cause), rather than never. */
const SOLO_FAILURES_BEFORE_STRIPPING = 3;

/** Results wait at most this long to share a write with others. */
const FLUSH_AFTER_MS = 5;
/** …or until this many are queued. */
const FLUSH_AT = 256;

/**
 * Writes run results to the ledger, many per transaction: at a thousand runs a second, a write per result kept
 * the executor's event loop (and SQLite's single writer, shared with the dispatcher) busy. A result that may claim
 * a retry goes through RunsRepository.finishWithRetry on its own (it needs the outcome of its own compare-and-set),
 * which writes the result and the retry in one transaction: a crash of this process between them, or a write of one
 * that fails, can not leave the run failed without its next attempt (a failed write keeps the result queued whole).
 * While the ledger is unreachable, results are kept and retried with back-off; each `record()` resolves once its
 * result is written, so the caller can hold the run's slot until then.
 */
export class ResultRecorder {
  private readonly logger = new Logger(ResultRecorder.name);
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing = false;
  private backoffMs = 0;
  /** After a failed write, the next ones take half as many results (down to one), so one bad result is isolated. */
  private take = Infinity;

  constructor(
    private readonly runs: RunsRepository,
    private readonly batch: RunBatchRepository,
    private readonly executorId: string,
  ) {}

  record(run: LedgerKey, result: RunResult, policy: RetryPolicy | null): Promise<void> {
    return new Promise((done) => {
      this.queue.push({ run, result, policy, done, soloFailures: 0 });
      if (this.queue.length >= FLUSH_AT) this.schedule(0);
      else this.schedule(FLUSH_AFTER_MS);
    });
  }

  private schedule(ms: number): void {
    if (this.flushing) return; // the running flush looks at the queue again when it ends
    // An armed timer stays: a shorter one only while no back-off is on (results arriving must not postpone it).
    if (this.timer && (ms > 0 || this.backoffMs > 0)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), Math.max(ms, this.backoffMs));
  }

  private async flush(): Promise<void> {
    this.timer = null;
    this.flushing = true;
    const count = Math.min(this.queue.length, this.take);
    const items = this.queue.slice(0, count);
    this.queue = this.queue.slice(count);
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
          if (plain.length === 1) this.noteSoloFailure(plain[0], e);
        }
      }
      for (const p of items.filter(mayRetry)) {
        try {
          const { finished, retry } = await this.runs.finishWithRetry(p.run, p.result, p.policy);
          this.settle(p, finished, retry?.id ?? null);
        } catch (e) {
          this.warn(1, e);
          failed.push(p);
          this.noteSoloFailure(p, e);
        }
      }
    } finally {
      this.backoffMs = failed.length > 0 ? Math.min(Math.max(this.backoffMs * 2, 500), 10_000) : 0;
      this.take = failed.length > 0 ? Math.max(1, count >> 1) : Infinity;
      this.queue = [...failed, ...this.queue];
      this.flushing = false;
      if (this.queue.length > 0) this.schedule(this.queue.length >= FLUSH_AT ? 0 : FLUSH_AFTER_MS);
    }
  }

  private noteSoloFailure(p: Pending, e: unknown): void {
    if (++p.soloFailures < SOLO_FAILURES_BEFORE_STRIPPING || p.result.output === null) return;
    this.logger.error({
      msg: `result of run ${p.run.id} can not be written (${(e as Error).message}); writing it without its output`,
      runId: p.run.id,
      jobId: p.run.jobId,
      executorId: this.executorId,
    });
    p.result = {
      ...p.result,
      output: null,
      outputTruncated: true,
      error: [p.result.error, `output dropped: the ledger refused it (${(e as Error).message})`]
        .filter(Boolean)
        .join('; '),
    };
  }

  private settle(p: Pending, finished: boolean, retryRunId: number | null): void {
    // Successes at debug (a busy executor finishes hundreds a second); anything else is worth a line.
    const level = finished && p.result.status === 'succeeded' ? 'debug' : 'log';
    if (level !== 'debug' || logsDebug()) {
      this.logger[level]({
        msg: finished ? `run ${p.result.status}` : 'run result ignored: the ledger already has a final status',
        runId: p.run.id,
        jobId: p.run.jobId,
        scheduledAt: new Date(p.run.scheduledAt).toISOString(),
        executorId: this.executorId,
        retryRunId: retryRunId ?? undefined,
      });
    }
    p.done();
  }

  private warn(count: number, e: unknown): void {
    this.logger.warn(
      `cannot record ${count} result(s) yet (${(e as Error).message}); retrying in ${Math.max(this.backoffMs * 2, 500)} ms`,
    );
  }
}
