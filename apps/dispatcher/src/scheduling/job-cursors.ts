import { Injectable, Logger } from '@nestjs/common';
import { LogThrottle } from '@app/common';
import { JobsRepository, RunsRepository } from '@app/persistence';
import { Timers } from '../common/timers.service';

const FLUSH_INTERVAL = 'gocron-cursor-flush';
/** How often cursors reach the database. */
const FLUSH_MS = 1000;

/**
 * The ledger cursor of each job: the last scheduled tick that has a record in the ledger. Due ticks are computed
 * from it, never from timer punctuality, so a late timer or a dead dispatcher makes a tick late, not lost.
 *
 * The ledger is the truth, `jobs.last_tick_at` a hint. The hint is written once a second in batches (at 1,000
 * ticks a second that is one statement per 500 jobs rather than 1,000 writes competing with claims for SQLite's
 * single writer), so it may lag the ledger; before a tick is treated as missed, the cursor is restored from the
 * ledger (`restoreFromLedger`). Every move is forward only, in memory and in the database alike.
 *
 * This class is the one place that reads, moves and writes cursors.
 */
@Injectable()
export class JobCursors {
  private readonly logger = new Logger(JobCursors.name);
  private readonly failures = new LogThrottle((m) => this.logger.warn(m));
  /** Cursors of the jobs this dispatcher schedules. */
  private readonly at = new Map<number, number>();
  /** Moves not yet written, with the next fire time shown by the API. */
  private unwritten = new Map<number, { tickAt: number; nextRunAt: number | null }>();
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly jobs: JobsRepository,
    private readonly runs: RunsRepository,
    private readonly timers: Timers,
  ) {}

  start(): void {
    this.timers.every(FLUSH_INTERVAL, FLUSH_MS, () => this.flush());
  }

  /** The cursor of a scheduled job (only valid after `load`). */
  of(jobId: number): number {
    return this.at.get(jobId) ?? 0;
  }

  /**
   * Takes a job's stored cursor when its definition is (re)loaded, keeping the later of it and the one in memory:
   * the stored one lags while writes are pending, and a reset (a new schedule, a resume) stores `now`, ahead of it.
   */
  load(jobId: number, stored: number): number {
    const cursor = Math.max(stored, this.at.get(jobId) ?? stored);
    this.at.set(jobId, cursor);
    return cursor;
  }

  /** Moves the cursor forward to `tickAt` (never back); written within a second. */
  advance(jobId: number, tickAt: number, nextRunAt: number | null): void {
    if (tickAt <= (this.at.get(jobId) ?? -Infinity)) return;
    this.at.set(jobId, tickAt);
    this.queueWrite(jobId, tickAt, nextRunAt);
  }

  /**
   * Takes the ledger's word for the job's last claimed tick when it is later than the cursor: another dispatcher
   * may have claimed ticks whose cursor write has not landed. Answers when the record at the cursor was written
   * (the ledger's latest sign of a dispatcher at work on the job), or null when no record is at the cursor (a
   * schedule reset, or the job's first tick).
   */
  async restoreFromLedger(jobId: number): Promise<{ seenAt: number | null }> {
    const claimed = await this.lastClaimed(jobId, this.of(jobId));
    if (claimed > this.of(jobId)) this.at.set(jobId, claimed);
    return { seenAt: await this.runs.writtenAt(jobId, this.of(jobId)) };
  }

  /** The later of a stored cursor and the ledger's last claimed tick, for a job this dispatcher may not schedule. */
  async lastClaimed(jobId: number, stored: number): Promise<number> {
    return Math.max(stored, (await this.runs.lastScheduledTick(jobId)) ?? stored);
  }

  /**
   * Moves a job's stored cursor forward at once: for records written outside the scheduling path (the missed-tick
   * sweeper), about jobs that may not be scheduled here. The cursor in memory moves only in the job's mailbox; if
   * it is behind, its claims of those ticks find their ledger keys taken.
   */
  async store(jobId: number, tickAt: number, nextRunAt: number | null): Promise<void> {
    await this.jobs.advanceCursor(jobId, tickAt, nextRunAt);
  }

  /** The job is no longer scheduled here (paused, deleted): its cursor is the database's business again. */
  forget(jobId: number): void {
    this.at.delete(jobId);
    this.unwritten.delete(jobId);
  }

  /**
   * Another dispatcher schedules the job now: its cursor leaves memory, but a move not written yet stays queued (and
   * is written by writeNow, or retried by the next flush when a write fails), so the next holder starts from it.
   */
  release(jobId: number): void {
    this.at.delete(jobId);
  }

  /** At shutdown: until nothing is unwritten or in flight (bounded: a failing database gives up after 5 tries). */
  async flushAll(): Promise<void> {
    this.timers.clearInterval(FLUSH_INTERVAL);
    for (let i = 0; i < 5 && (this.unwritten.size > 0 || this.flushing); i++) {
      await (this.flushing ?? this.flush());
    }
  }

  /** Writes every move made so far (waiting for a flush in flight, which may hold older ones only). */
  async writeNow(): Promise<void> {
    if (this.flushing) await this.flushing;
    await this.flush();
  }

  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.unwritten.size === 0) return Promise.resolve();
    const batch = this.unwritten;
    this.unwritten = new Map();
    this.flushing = (async () => {
      try {
        await this.jobs.advanceCursors([...batch].map(([id, c]) => ({ id, ...c })));
      } catch (e) {
        // Put them back (later moves win) and try again on the next flush.
        for (const [id, c] of batch) this.queueWrite(id, c.tickAt, c.nextRunAt);
        this.failures.warn('flush', `cursor flush of ${batch.size} job(s) failed, retrying: ${(e as Error).message}`);
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  private queueWrite(jobId: number, tickAt: number, nextRunAt: number | null): void {
    const queued = this.unwritten.get(jobId);
    if (!queued || queued.tickAt < tickAt) this.unwritten.set(jobId, { tickAt, nextRunAt });
  }
}
