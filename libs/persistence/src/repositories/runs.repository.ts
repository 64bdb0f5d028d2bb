import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, LessThan, LessThanOrEqual, Repository } from 'typeorm';
import { isDuplicateOn, LEDGER_KEY, retryBusy, SAVE_OPTIONS } from '../db-errors';
import { ACTIVE_STATUSES, RETRYABLE_STATUSES, RunStatus, RunTrigger } from '../domain';
import { RunEntity } from '../entities/run.entity';

export interface NewRun {
  jobId: number;
  tickKey: string;
  attempt: number;
  executorKey?: string;
  scheduledAt: number;
  trigger: RunTrigger;
  status: 'pending' | 'skipped' | 'missed' | 'cancelled';
  notBefore?: number;
  deadlineAt: number;
  dispatcherId: string | null;
  error?: string | null;
}

export interface RunResult {
  status: Exclude<RunStatus, 'pending' | 'running'>;
  finishedAt: number;
  exitCode?: number | null;
  httpStatus?: number | null;
  output?: string | null;
  outputTruncated?: boolean;
  error?: string | null;
}

export interface RetryPolicy {
  retries: number;
  retryBackoffMs: number;
  timeoutMs: number;
}

/** How many of a job's newest records (by tick) lastScheduledTick looks through, and how many a query. */
const LAST_TICK_WINDOW = 1000;
const LAST_TICK_PAGE = 50;

/** What recording a run's result needs of the run: its id, and its ledger key and tick to claim its retry under. */
export type LedgerKey = Pick<RunEntity, 'id' | 'jobId' | 'tickKey' | 'attempt' | 'executorKey' | 'scheduledAt'>;

/** A running run as lost-run detection and the executor's ledger watch read it. */
export type RunningRun = LedgerKey & Pick<RunEntity, 'executorId' | 'startedAt' | 'deadlineAt'>;

const RUNNING_RUN_SELECT = {
  id: true,
  jobId: true,
  tickKey: true,
  attempt: true,
  executorKey: true,
  scheduledAt: true,
  executorId: true,
  startedAt: true,
  deadlineAt: true,
} as const;

/**
 * The run ledger. Inserting a row is the only way a tick becomes a run, and every status write is a
 * compare-and-set on the current status, so status moves forward only and a final status is never overwritten.
 */
@Injectable()
export class RunsRepository {
  private readonly repo: Repository<RunEntity>;

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.repo = ds.getRepository(RunEntity);
  }

  /**
   * Inserts the run; null when (jobId, tickKey, attempt, executorKey) already has a row: someone else has it. Any
   * other failure (another unique key, a spent AUTO_INCREMENT) is thrown, never taken for "claimed elsewhere".
   */
  async claim(run: NewRun, now = Date.now()): Promise<RunEntity | null> {
    const entity = this.repo.create({
      ...run,
      executorKey: run.executorKey ?? '',
      notBefore: run.notBefore ?? now,
      error: run.error ?? null,
      outputTruncated: false,
      finishedAt: run.status === 'pending' ? null : now,
      createdAt: now,
      updatedAt: now,
    });
    try {
      // No implicit transaction (see SAVE_OPTIONS): one INSERT is atomic on its own.
      const saved = await retryBusy(() => this.repo.save(entity, SAVE_OPTIONS));
      saved.id = Number(saved.id); // mysql2 may answer a BIGINT insert id as a string
      return saved;
    } catch (e) {
      if (isDuplicateOn(e, LEDGER_KEY)) return null;
      throw e;
    }
  }

  findById(id: number): Promise<RunEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /** Runs of the job that are pending or running. */
  findActive(jobId: number): Promise<RunEntity[]> {
    return this.repo.find({ where: { jobId, status: In([...ACTIVE_STATUSES]) }, order: { id: 'ASC' } });
  }

  findStatuses(ids: number[]): Promise<Pick<RunEntity, 'id' | 'status'>[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.repo.find({ select: { id: true, status: true }, where: { id: In(ids) } });
  }

  /** Pending runs that may be offered to an executor now, oldest first. */
  findOfferable(now: number, limit: number): Promise<RunEntity[]> {
    return this.repo.find({
      where: { status: 'pending', notBefore: LessThanOrEqual(now) },
      order: { id: 'ASC' },
      take: limit,
    });
  }

  /**
   * Running runs (of these executors): what lost-run detection and an executor's ledger watch need of them, read
   * every half second, so only the columns they use.
   */
  findRunningOn(executorIds: string[] | null): Promise<RunningRun[]> {
    const where = executorIds
      ? { status: 'running' as const, executorId: In(executorIds) }
      : { status: 'running' as const };
    return this.repo.find({ select: RUNNING_RUN_SELECT, where });
  }

  /** CAS from one of `from` to a final status. False when the run had already moved on (a stale report). */
  async finish(id: number, r: RunResult, from: readonly RunStatus[] = ['running']): Promise<boolean> {
    const result = await retryBusy(() =>
      this.repo
        .createQueryBuilder()
        .update(RunEntity)
        .set({
          status: r.status,
          finishedAt: r.finishedAt,
          durationMs: () => `CASE WHEN started_at IS NULL THEN NULL ELSE ${Math.trunc(r.finishedAt)} - started_at END`,
          exitCode: r.exitCode ?? null,
          httpStatus: r.httpStatus ?? null,
          output: r.output ?? null,
          outputTruncated: r.outputTruncated ?? false,
          error: r.error ?? null,
          updatedAt: r.finishedAt,
        })
        .where('id = :id AND status IN (:...from)', { id, from })
        .execute(),
    );
    return (result.affected ?? 0) > 0;
  }

  /**
   * Records a final result and, when it failed and the job allows, claims the next attempt as a pending `retry`
   * run with doubling back-off. The retry row has its own ledger key, so two writers can not both create it.
   */
  async finishWithRetry(
    run: LedgerKey,
    r: RunResult,
    policy: RetryPolicy | null,
    from: readonly RunStatus[] = ['running'],
  ): Promise<{ finished: boolean; retry: RunEntity | null }> {
    const finished = await this.finish(run.id, r, from);
    if (!policy || !RETRYABLE_STATUSES.includes(r.status) || run.attempt > policy.retries) {
      return { finished, retry: null };
    }
    if (!finished) {
      // Our own earlier write may have landed (a reply lost, a retried call): then the retry is still owed. The
      // retry's ledger key keeps it single whoever claims it.
      const current = await this.findStatuses([run.id]);
      if (current[0]?.status !== r.status) return { finished, retry: null };
    }
    const notBefore = r.finishedAt + policy.retryBackoffMs * 2 ** (run.attempt - 1);
    const retry = await this.claim(
      {
        jobId: run.jobId,
        tickKey: run.tickKey,
        attempt: run.attempt + 1,
        executorKey: run.executorKey,
        scheduledAt: run.scheduledAt,
        trigger: 'retry',
        status: 'pending',
        notBefore,
        deadlineAt: notBefore + policy.timeoutMs,
        dispatcherId: null,
      },
      r.finishedAt,
    );
    return { finished, retry };
  }

  /** Pending runs no executor took before their deadline. */
  findExpiredPending(now: number, limit: number): Promise<RunEntity[]> {
    return this.repo.find({
      where: { status: 'pending', deadlineAt: LessThan(now) },
      order: { id: 'ASC' },
      take: limit,
    });
  }

  /** Whether the tick has any first-attempt record (any executorKey, any status). */
  async tickHasRecord(jobId: number, tickKey: string): Promise<boolean> {
    return (await this.repo.countBy({ jobId, tickKey, attempt: 1 })) > 0;
  }

  /**
   * The latest scheduled tick of the job that has a run record (misfire range records excluded), among its
   * LAST_TICK_WINDOW newest records by tick: read a page at a time on the (job_id, scheduled_at) index from the
   * newest tick down (usually the first page has it), so its cost does not grow with the job's history. Null when
   * none of them is a scheduled tick; then the stored cursor, which JobCursors merges with this, stands.
   */
  async lastScheduledTick(jobId: number): Promise<number | null> {
    let before: { at: number; id: number } | null = null;
    for (let read = 0; read < LAST_TICK_WINDOW; read += LAST_TICK_PAGE) {
      const rows: { id: string | number; at: string | number; t: string; tick_key: string }[] = await this.ds.query(
        `SELECT id, scheduled_at AS at, \`trigger\` AS t, tick_key FROM runs WHERE job_id = ?` +
          (before ? ' AND (scheduled_at < ? OR (scheduled_at = ? AND id < ?))' : '') +
          ` ORDER BY scheduled_at DESC, id DESC LIMIT ${LAST_TICK_PAGE}`,
        before ? [jobId, before.at, before.at, before.id] : [jobId],
      );
      const found = rows.find((r) => (r.t === 'schedule' || r.t === 'misfire') && !r.tick_key.startsWith('misfire:'));
      if (found) return Number(found.at);
      if (rows.length < LAST_TICK_PAGE) return null;
      const last = rows[rows.length - 1];
      before = { at: Number(last.at), id: Number(last.id) };
    }
    return null;
  }

  /** The previous attempt of a retry, to run the retry on another executor when one exists. */
  findAttempt(run: Pick<RunEntity, 'jobId' | 'tickKey' | 'executorKey'>, attempt: number): Promise<RunEntity | null> {
    return this.repo.findOneBy({ jobId: run.jobId, tickKey: run.tickKey, executorKey: run.executorKey, attempt });
  }
}
