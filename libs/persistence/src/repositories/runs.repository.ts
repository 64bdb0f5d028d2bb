import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, LessThan, LessThanOrEqual, Repository } from 'typeorm';
import { isDuplicateKey, retryBusy, SAVE_OPTIONS } from '../db-errors';
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

export interface RunFilter {
  limit: number;
  offset: number;
  jobId?: number;
  status?: RunStatus;
}

export interface RetryPolicy {
  retries: number;
  retryBackoffMs: number;
  timeoutMs: number;
}

export type LastRun = Pick<RunEntity, 'id' | 'status' | 'scheduledAt'>;

/** What recording a run's result needs of the run: its id, and its ledger key and tick to claim its retry under. */
export type LedgerKey = Pick<RunEntity, 'id' | 'jobId' | 'tickKey' | 'attempt' | 'executorKey' | 'scheduledAt'>;

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

  /** Inserts the run; null when (jobId, tickKey, attempt, executorKey) already has a row: someone else has it. */
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
      return await retryBusy(() => this.repo.save(entity, SAVE_OPTIONS));
    } catch (e) {
      if (isDuplicateKey(e)) return null;
      throw e;
    }
  }

  findById(id: number): Promise<RunEntity | null> {
    return this.repo.findOneBy({ id });
  }

  async list(f: RunFilter): Promise<{ items: RunEntity[]; total: number }> {
    const where: Record<string, unknown> = {};
    if (f.jobId !== undefined) where.jobId = f.jobId;
    if (f.status !== undefined) where.status = f.status;
    const [items, total] = await this.repo.findAndCount({
      where,
      order: { id: 'DESC' },
      skip: f.offset,
      take: f.limit,
    });
    return { items, total };
  }

  /** The newest run of each job, for the API's `lastRun`. */
  async lastRuns(jobIds: number[]): Promise<Map<number, LastRun>> {
    if (jobIds.length === 0) return new Map();
    const rows = await this.repo
      .createQueryBuilder('r')
      .select(['r.id', 'r.jobId', 'r.status', 'r.scheduledAt'])
      .where('r.job_id IN (:...jobIds)', { jobIds })
      .andWhere('r.id IN (SELECT MAX(r2.id) FROM runs r2 WHERE r2.job_id IN (:...jobIds) GROUP BY r2.job_id)')
      .getMany();
    return new Map(rows.map((r) => [r.jobId, { id: r.id, status: r.status, scheduledAt: r.scheduledAt }]));
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

  findRunningOn(executorIds: string[] | null): Promise<RunEntity[]> {
    const where = executorIds
      ? { status: 'running' as const, executorId: In(executorIds) }
      : { status: 'running' as const };
    return this.repo.find({ where });
  }

  /** Runs whose status changed after `since` (ms): the feed for server-sent events. */
  findChangedSince(since: number, limit: number): Promise<RunEntity[]> {
    return this.repo
      .createQueryBuilder('r')
      .select([
        'r.id',
        'r.jobId',
        'r.status',
        'r.trigger',
        'r.attempt',
        'r.scheduledAt',
        'r.executorId',
        'r.startedAt',
        'r.finishedAt',
        'r.updatedAt',
      ])
      .where('r.updated_at > :since', { since })
      .orderBy('r.updated_at', 'ASC')
      .limit(limit)
      .getMany();
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

  async countByStatus(): Promise<Map<string, number>> {
    const rows = await this.repo
      .createQueryBuilder('r')
      .select('r.status', 'status')
      .addSelect('COUNT(*)', 'n')
      .groupBy('r.status')
      .getRawMany<{ status: string; n: string | number }>();
    return new Map(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** Whether the tick has any first-attempt record (any executorKey, any status). */
  async tickHasRecord(jobId: number, tickKey: string): Promise<boolean> {
    return (await this.repo.countBy({ jobId, tickKey, attempt: 1 })) > 0;
  }

  /** The latest scheduled tick of the job that has a run record (misfire range records excluded). */
  async lastScheduledTick(jobId: number): Promise<number | null> {
    const row = await this.repo
      .createQueryBuilder('r')
      .select('MAX(r.scheduled_at)', 'at')
      .where('r.job_id = :jobId', { jobId })
      .andWhere("r.trigger IN ('schedule', 'misfire')")
      .andWhere("r.tick_key NOT LIKE 'misfire:%'")
      .getRawOne<{ at: string | number | null }>();
    return row?.at === null || row?.at === undefined ? null : Number(row.at);
  }

  /** The previous attempt of a retry, to run the retry on another executor when one exists. */
  findAttempt(run: Pick<RunEntity, 'jobId' | 'tickKey' | 'executorKey'>, attempt: number): Promise<RunEntity | null> {
    return this.repo.findOneBy({ jobId: run.jobId, tickKey: run.tickKey, executorKey: run.executorKey, attempt });
  }
}
