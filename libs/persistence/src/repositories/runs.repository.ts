import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, LessThan, Raw, Repository } from 'typeorm';
import { isDuplicateKey, isDuplicateOn, LEDGER_KEY, retryBusy, SAVE_OPTIONS } from '../db-errors';
import { ACTIVE_STATUSES, RETRYABLE_STATUSES, RunStatus, RunTrigger } from '../domain';
import { JobEntity } from '../entities/job.entity';
import { RunEntity } from '../entities/run.entity';
import { placeholders } from '../sql/columns';
import { ledgerKeyOfRow, LedgerKeyRow } from '../sql/runs.table';
import { shardCondition } from '../sql/shard-condition';
import { RunBatchRepository } from './run-batch.repository';

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
  /** A `skipped` record: its ticks (default 1) and, when more than one, the first of them (see RunEntity). */
  skippedCount?: number;
  skippedFrom?: number | null;
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

/** Keys a reachOf statement at most: far below SQLite's bound variables and MySQL's packet limit. */
const REACH_CHUNK = 500;

/** A (job, tick key) pair as the key of the map reachOf answers. */
export const tickRef = (jobId: number, tickKey: string): string => `${jobId}\u0000${tickKey}`;

/** How many of a job's newest records (by tick) lastScheduledTick looks through, and how many a query. */
const LAST_TICK_WINDOW = 1000;
const LAST_TICK_PAGE = 50;

/** What recording a run's result needs of the run: its id, and its ledger key and tick to claim its retry under. */
export type LedgerKey = Pick<RunEntity, 'id' | 'jobId' | 'tickKey' | 'attempt' | 'executorKey' | 'scheduledAt'>;

/** A running run as lost-run detection and the executor's ledger watch read it. */
export type RunningRun = LedgerKey & Pick<RunEntity, 'executorId' | 'startedAt' | 'deadlineAt'>;

/** A run that ended with a status a retry is for, as the retry repair reads it. */
export type EndedRun = LedgerKey & Pick<RunEntity, 'status' | 'finishedAt' | 'updatedAt'>;

/** A position in the (updated_at, id) order of the ledger: every row at or before it has been read. */
export interface LedgerPosition {
  at: number;
  id: number;
}

/** Runs that ended retryable after they had started, with no next attempt (see findRetriesOwed). */
const RETRIES_OWED_SQL =
  `SELECT r.id, r.job_id, r.tick_key, r.attempt, r.executor_key, r.scheduled_at, r.status, r.finished_at, ` +
  `r.updated_at FROM runs r ` +
  // Only runs whose job still allows another attempt under the policy they ran with: a storm of failures of jobs
  // without retries is not read at all (the rows read are the rows owed, not every failure).
  // (A scalar subquery, not a join or EXISTS, which MariaDB may turn into a semi-join driven from jobs: the runs range
  // on (updated_at, id) stays the driving read.)
  `WHERE r.updated_at >= ? AND (r.updated_at > ? OR r.id > ?) AND r.updated_at <= ? ` +
  `AND r.attempt <= (SELECT j.retries FROM jobs j WHERE j.id = r.job_id AND j.updated_at <= r.updated_at) ` +
  `AND r.status IN (${placeholders(RETRYABLE_STATUSES.length)}) AND r.started_at IS NOT NULL ` +
  `AND NOT EXISTS (SELECT 1 FROM runs n WHERE n.job_id = r.job_id AND n.tick_key = r.tick_key ` +
  `AND n.attempt = r.attempt + 1 AND n.executor_key = r.executor_key) ` +
  `ORDER BY r.updated_at, r.id LIMIT ?`;

/** The next attempt of `run` as a pending `retry` run, offered from `notBefore` and to be taken within the timeout. */
function retryOf(run: LedgerKey, policy: RetryPolicy, notBefore: number): NewRun {
  return {
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
  };
}

/** When the next attempt after `run` ended at `endedAt` may be offered: the back-off doubles each attempt. */
function backoffUntil(run: LedgerKey, policy: RetryPolicy, endedAt: number): number {
  return endedAt + policy.retryBackoffMs * 2 ** (run.attempt - 1);
}

/** A pending run as a pass that offers runs reads it: its ledger key, and what an offer, a cancel and the broker use. */
export type OfferableRun = LedgerKey &
  Pick<RunEntity, 'status' | 'executorId' | 'executorAddress' | 'deadlineAt' | 'queuedAt'>;

const OFFERABLE_SELECT =
  'r.id, r.job_id, r.tick_key, r.attempt, r.executor_key, r.scheduled_at, r.status, r.executor_id, ' +
  'r.executor_address, r.deadline_at, r.queued_at';

interface OfferableRow extends LedgerKeyRow {
  status: RunStatus;
  executor_id: string | null;
  executor_address: string | null;
  deadline_at: number | string;
  queued_at: number | string | null;
}

/** (MySQL answers BIGINT columns as strings, per the pool's options.) */
function offerableOf(r: OfferableRow): OfferableRun {
  return {
    ...ledgerKeyOfRow(r),
    status: r.status,
    executorId: r.executor_id,
    executorAddress: r.executor_address,
    deadlineAt: Number(r.deadline_at),
    queuedAt: r.queued_at === null ? null : Number(r.queued_at),
  };
}

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
  /** Where a result and its retry are written in one transaction (raw SQL, each dialect its own way). */
  private readonly batch: RunBatchRepository;

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.repo = ds.getRepository(RunEntity);
    this.batch = new RunBatchRepository(ds);
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
      // A duplicate whose message names no key we know (a server answering in another language): the ledger row
      // itself says whether someone else has the tick. Any other duplicate is a fault.
      if (isDuplicateKey(e) && (await this.ledgerKeyTaken(run))) return null;
      throw e;
    }
  }

  private async ledgerKeyTaken(run: NewRun): Promise<boolean> {
    const n = await this.repo.countBy({
      jobId: run.jobId,
      tickKey: run.tickKey,
      attempt: run.attempt,
      executorKey: run.executorKey ?? '',
    });
    return n > 0;
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

  /**
   * Pending runs of the group's jobs that may be offered now, oldest first from after `afterId`, and among them the
   * runs whose job is gone (to be cancelled). The group is the job's: read on the (status, id) index with each run's
   * job by its key (a LEFT JOIN keeps runs the outer table on both dialects), so the cost is bounded by the pending
   * backlog, never by the history.
   */
  async findOfferableFor(
    group: string,
    now: number,
    afterId: number,
    limit: number,
    shards: readonly number[] | null = null,
  ): Promise<OfferableRun[]> {
    // (No `id > 0` for a first page: MySQL could take it for a range on the primary key, through the history.)
    // Raw, with the columns an offer uses: a pass reads up to a thousand of these every 25-500 ms during a burst, and
    // hydrating whole entities (output and error included) was most of the dispatcher's time in the read.
    const sql =
      `SELECT ${OFFERABLE_SELECT} FROM runs r LEFT JOIN jobs j ON j.id = r.job_id ` +
      `WHERE r.status = 'pending' AND r.not_before <= ?${afterId > 0 ? ' AND r.id > ?' : ''} ` +
      `AND (j.group_name = ? OR j.id IS NULL)${shards ? ` AND ${this.shardsOf('r.job_id', shards)}` : ''} ` +
      `ORDER BY r.id LIMIT ?`;
    const params = [now, ...(afterId > 0 ? [afterId] : []), group, Math.trunc(limit)];
    const rows = await retryBusy(() => this.ds.query<OfferableRow[]>(sql, params));
    return rows.map(offerableOf);
  }

  /** Rows whose job (`column`) is in one of these shards (see ShardOwnership). */
  private shardsOf(column: string, shards: readonly number[]): string {
    return shardCondition(this.repo.manager.connection.options.type, column, shards);
  }

  /**
   * Pending runs of broker groups (`groups`, or every group for null) to publish now: due, and never confirmed by the
   * broker (and older than `freshBefore`: a run just claimed is being published by its claimer) or confirmed before
   * `staleBefore` (a message a broker that lost its queue lost with it). Oldest first from after `afterId`, and among
   * them the runs whose job is gone (to be cancelled), as findOfferableFor.
   */
  findPublishable(
    groups: string[] | null,
    now: number,
    bounds: { freshBefore: number; staleBefore: number },
    afterId: number,
    limit: number,
    shards: readonly number[] | null = null,
  ): Promise<RunEntity[]> {
    const q = this.repo
      .createQueryBuilder('r')
      .leftJoin(JobEntity, 'j', 'j.id = r.jobId')
      .where(`r.status = 'pending' AND r.notBefore <= :now${afterId > 0 ? ' AND r.id > :afterId' : ''}`, {
        now,
        afterId,
      })
      .andWhere('((r.queuedAt IS NULL AND r.createdAt <= :freshBefore) OR r.queuedAt <= :staleBefore)', bounds);
    if (groups) q.andWhere('(j.group IN (:...groups) OR j.id IS NULL)', { groups });
    if (shards) q.andWhere(this.shardsOf('r.job_id', shards));
    return q.orderBy('r.id', 'ASC').limit(limit).getMany();
  }

  /** Records that the broker confirmed these runs' messages at `at` (pending ones only: a started run keeps its row). */
  async markQueued(ids: number[], at: number): Promise<void> {
    if (ids.length === 0) return;
    await retryBusy(() =>
      this.repo
        .createQueryBuilder()
        .update(RunEntity)
        .set({ queuedAt: at })
        .where(`id IN (:...ids) AND status = 'pending'`, { ids })
        .execute(),
    );
  }

  /**
   * Forgets that the broker confirmed the messages of a job's pending runs (not its broadcast runs: those are queued
   * per executor). For a job moved to another group: its runs' messages wait in the old group's queue, whose
   * executors drop them, and the pending pass publishes runs never confirmed to the job's queue now. Answers how
   * many runs it changed.
   */
  async forgetQueued(jobId: number): Promise<number> {
    const result = await retryBusy(() =>
      this.repo
        .createQueryBuilder()
        .update(RunEntity)
        .set({ queuedAt: null })
        .where(`jobId = :jobId AND status = 'pending' AND executorKey = '' AND queuedAt IS NOT NULL`, { jobId })
        .execute(),
    );
    return result.affected ?? 0;
  }

  /**
   * Forgets that the broker confirmed one pending run's message (its message was dead-lettered for a reason that is
   * not the run's: a delivery limit, a length limit), so that the pending pass publishes it again. Answers whether it
   * changed the run.
   */
  async forgetQueuedRun(id: number): Promise<boolean> {
    const result = await retryBusy(() =>
      this.repo
        .createQueryBuilder()
        .update(RunEntity)
        .set({ queuedAt: null })
        .where(`id = :id AND status = 'pending'`, { id })
        .execute(),
    );
    return (result.affected ?? 0) > 0;
  }

  /** The runs with these ids (those that exist). */
  findByIds(ids: number[]): Promise<RunEntity[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.repo.findBy({ id: In(ids) });
  }

  /**
   * Running runs (of these executors): what lost-run detection and an executor's ledger watch need of them, read
   * every half second, so only the columns they use.
   */
  findRunningOn(executorIds: string[] | null, shards: readonly number[] | null = null): Promise<RunningRun[]> {
    const where = {
      status: 'running' as const,
      ...(executorIds ? { executorId: In(executorIds) } : {}),
      ...(shards ? { jobId: Raw((column) => this.shardsOf(column, shards)) } : {}),
    };
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
          // The write's instant when later: change readers must see a late write after what they have read.
          updatedAt: Math.max(r.finishedAt, Date.now()),
        })
        .where('id = :id AND status IN (:...from)', { id, from })
        .execute(),
    );
    return (result.affected ?? 0) > 0;
  }

  /**
   * Records a final result and, when it failed and the job allows, claims the next attempt as a pending `retry`
   * run with doubling back-off, both in one transaction (RunBatchRepository.finishClaimingRetry): a crash or a
   * failed write between them can not leave a failed run with retries left and no next attempt. The retry row has
   * its own ledger key, so two writers can not both create it.
   */
  async finishWithRetry(
    run: LedgerKey,
    r: RunResult,
    policy: RetryPolicy | null,
    from: readonly RunStatus[] = ['running'],
  ): Promise<{ finished: boolean; retry: RunEntity | null }> {
    if (!policy || !RETRYABLE_STATUSES.includes(r.status) || run.attempt > policy.retries) {
      return { finished: await this.finish(run.id, r, from), retry: null };
    }
    const retry = retryOf(run, policy, backoffUntil(run, policy, r.finishedAt));
    // Our own earlier write of this result may have landed (a reply lost, a retried call): the retry is still owed,
    // and claimed then too.
    const { finished, retryId } = await this.batch.finishClaimingRetry(run.id, r, from, retry, r.finishedAt);
    return { finished, retry: retryId === null ? null : this.claimed(retry, retryId, r.finishedAt) };
  }

  /**
   * Runs that ended with a status a retry is for, after they had started (a run that expired pending or was refused
   * before starting is never retried), and have no next attempt: what a result written without its retry leaves.
   * Those whose (updated_at, id) is after `after` and updated_at at most `upTo`, in that order, at most `limit`; read
   * on the (updated_at, id) index, so the cost is the rows that changed in the window, not the history. Whether the
   * job allows another attempt is the caller's to judge.
   */
  async findRetriesOwed(after: LedgerPosition, upTo: number, limit: number): Promise<EndedRun[]> {
    const rows = await this.ds.query<
      (LedgerKeyRow & { status: RunStatus; finished_at: number | string | null; updated_at: number | string })[]
    >(RETRIES_OWED_SQL, [after.at, after.at, after.id, upTo, ...RETRYABLE_STATUSES, Math.trunc(limit)]);
    return rows.map((r) => ({
      ...ledgerKeyOfRow(r),
      status: r.status,
      finishedAt: r.finished_at === null ? null : Number(r.finished_at),
      updatedAt: Number(r.updated_at),
    }));
  }

  /**
   * Claims the next attempt of a run that ended at `endedAt` without it: offered once its back-off has passed, and
   * not before `now`, so that its deadline (a timeout from then) is still ahead. Null when it exists already.
   */
  claimRetry(run: LedgerKey, policy: RetryPolicy, endedAt: number, now = Date.now()): Promise<RunEntity | null> {
    return this.claim(retryOf(run, policy, Math.max(now, backoffUntil(run, policy, endedAt))), now);
  }

  /** The entity of a run claimed by raw SQL, as claim() answers one. */
  private claimed(run: NewRun, id: number, now: number): RunEntity {
    return this.repo.create({
      ...run,
      id,
      executorKey: run.executorKey ?? '',
      notBefore: run.notBefore ?? now,
      error: run.error ?? null,
      executorId: null,
      executorAddress: null,
      startedAt: null,
      finishedAt: run.status === 'pending' ? null : now,
      durationMs: null,
      exitCode: null,
      httpStatus: null,
      output: null,
      outputTruncated: false,
      createdAt: now,
      updatedAt: now,
    });
  }

  /** Pending runs no executor took before their deadline. */
  findExpiredPending(now: number, limit: number, shards: readonly number[] | null = null): Promise<RunEntity[]> {
    return this.repo.find({
      where: {
        status: 'pending',
        deadlineAt: LessThan(now),
        ...(shards ? { jobId: Raw((column) => this.shardsOf(column, shards)) } : {}),
      },
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

  /**
   * Which of these (job, tick key) pairs have any record (any attempt, any executor key), by `tickRef`: the
   * watchdog's question. On the unique key's leading columns (job_id, tick_key).
   */
  async recordedTicks(keys: { jobId: number; tickKey: string }[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let c = 0; c < keys.length; c += REACH_CHUNK) {
      const chunk = keys.slice(c, c + REACH_CHUNK);
      const jobIds = [...new Set(chunk.map((k) => k.jobId))];
      const tickKeys = [...new Set(chunk.map((k) => k.tickKey))];
      const rows = await this.ds.query<{ job_id: number | string; tick_key: string }[]>(
        `SELECT DISTINCT job_id, tick_key FROM runs ` +
          `WHERE job_id IN (${placeholders(jobIds.length)}) AND tick_key IN (${placeholders(tickKeys.length)})`,
        [...jobIds, ...tickKeys],
      );
      for (const row of rows) out.add(tickRef(Number(row.job_id), row.tick_key));
    }
    return out;
  }

  /**
   * The `skipped` records of these jobs covering several ticks and reaching `from` or later: [first tick, last tick]
   * per job. A dropped range (a misfire policy's one record for many ticks) sits under its first tick's key with its
   * last tick as `scheduledAt`; folded `forbid` skips sit under their last tick's key; both carry `skippedFrom`
   * (dropped ranges written before it existed have only their key).
   */
  async rangesReaching(jobIds: number[], from: number): Promise<Map<number, [number, number][]>> {
    const out = new Map<number, [number, number][]>();
    for (let c = 0; c < jobIds.length; c += REACH_CHUNK) {
      const chunk = jobIds.slice(c, c + REACH_CHUNK);
      const rows = await this.ds.query<
        {
          job_id: number | string;
          tick_key: string;
          scheduled_at: number | string;
          skipped_from: number | string | null;
        }[]
      >(
        `SELECT job_id, tick_key, scheduled_at, skipped_from FROM runs WHERE job_id IN (${placeholders(chunk.length)}) ` +
          `AND scheduled_at >= ? AND status = 'skipped' AND attempt = 1 AND executor_key = ''`,
        [...chunk, from],
      );
      for (const r of rows) {
        const first = r.skipped_from === null ? Number(r.tick_key) * 1000 : Number(r.skipped_from);
        const last = Number(r.scheduled_at);
        if (!(first < last)) continue; // a tick's own record, not a range
        const list = out.get(Number(r.job_id)) ?? [];
        list.push([first, last]);
        out.set(Number(r.job_id), list);
      }
    }
    return out;
  }

  /**
   * The latest `scheduledAt` of the first-attempt record under each (job, tick key), by `tickRef`, for keys a claim
   * found taken: a tick's own instant for a run, a missed or a skipped tick, the range's last tick for a dropped
   * range recorded under its first tick's key. Keys without a record on the empty executor key (a broadcast tick's
   * rows carry executor keys) are absent. On the unique key (job_id, tick_key, attempt, executor_key).
   */
  async reachOf(keys: { jobId: number; tickKey: string }[]): Promise<Map<string, number>> {
    const reach = new Map<string, number>();
    for (let c = 0; c < keys.length; c += REACH_CHUNK) {
      const chunk = keys.slice(c, c + REACH_CHUNK);
      const jobIds = [...new Set(chunk.map((k) => k.jobId))];
      const tickKeys = [...new Set(chunk.map((k) => k.tickKey))];
      const rows = await this.ds.query<{ job_id: number | string; tick_key: string; at: number | string }[]>(
        `SELECT job_id, tick_key, MAX(scheduled_at) AS at FROM runs ` +
          `WHERE job_id IN (${placeholders(jobIds.length)}) AND tick_key IN (${placeholders(tickKeys.length)}) ` +
          `AND attempt = 1 AND executor_key = '' GROUP BY job_id, tick_key`,
        [...jobIds, ...tickKeys],
      );
      for (const row of rows) reach.set(tickRef(Number(row.job_id), row.tick_key), Number(row.at));
    }
    return reach;
  }

  /**
   * When the job's first-attempt tick record at `scheduledAt` was written (the latest, for a broadcast tick's rows),
   * or null when there is none. On the (job_id, scheduled_at) index.
   */
  async writtenAt(jobId: number, scheduledAt: number): Promise<number | null> {
    const [row] = await this.ds.query<{ at: number | string | null }[]>(
      `SELECT MAX(created_at) AS at FROM runs WHERE job_id = ? AND scheduled_at = ? AND attempt = 1 ` +
        "AND `trigger` IN ('schedule', 'misfire')",
      [jobId, scheduledAt],
    );
    return row?.at === null || row?.at === undefined ? null : Number(row.at);
  }

  /** The previous attempt of a retry, to run the retry on another executor when one exists. */
  findAttempt(run: Pick<RunEntity, 'jobId' | 'tickKey' | 'executorKey'>, attempt: number): Promise<RunEntity | null> {
    return this.repo.findOneBy({ jobId: run.jobId, tickKey: run.tickKey, executorKey: run.executorKey, attempt });
  }
}
