import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { retryBusy } from '../db-errors';
import { RunEntity } from '../entities/run.entity';

/** Rows one statement touches at most: each DELETE or UPDATE is short, so it holds its locks briefly. */
export const PRUNE_ROWS_PER_STATEMENT = 500;

/** What pruning never touches: a run that may still change. */
const SETTLED = `status NOT IN ('pending', 'running')`;

/**
 * Rows the missed-tick watchdog has verified: before the job's watermark (a deleted job's, or one with nothing left
 * to verify, have no bound). The watchdog looks a tick's record up; pruning one it has not verified yet would make it
 * take the tick for missed.
 */
const VERIFIED = (alias: string) =>
  `${alias}.scheduled_at < COALESCE((SELECT j.verify_from FROM jobs j WHERE j.id = ${alias}.job_id), ${Number.MAX_SAFE_INTEGER})`;

/** A position in the (updated_at, id) order of the ledger. */
export interface AgePosition {
  at: number;
  id: number;
}

/**
 * The statements of ledger retention, each bounded: reads of at most `limit` ids on an index, then a DELETE or UPDATE
 * by those primary keys (MySQL allows no LIMIT in an IN subquery, SQLite no LIMIT on DELETE; and a write by primary
 * keys locks exactly those rows). Every write re-checks that the row is settled and old enough, so a run that started
 * or changed between the read and the write is left alone. `updated_at` is not touched: clearing an old run's output
 * is not a change its readers (events, retry repair) need to see.
 */
@Injectable()
export class RetentionRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Ids and jobs of runs after `afterId`, in id order: which jobs had new runs since a pass last looked. */
  async runsAfter(afterId: number, limit: number): Promise<{ id: number; jobId: number }[]> {
    const rows = await this.ds.query<{ id: number | string; job_id: number | string }[]>(
      `SELECT id, job_id FROM runs WHERE id > ? ORDER BY id LIMIT ?`,
      [afterId, limit],
    );
    return rows.map((r) => ({ id: Number(r.id), jobId: Number(r.job_id) }));
  }

  /** The id of the job's `n`th newest run (n ≥ 1), or null when it has fewer: everything below it is older. */
  async nthNewestId(jobId: number, n: number): Promise<number | null> {
    const rows = await this.ds.query<{ id: number | string }[]>(
      `SELECT id FROM runs WHERE job_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?`,
      [jobId, n - 1],
    );
    return rows.length > 0 ? Number(rows[0].id) : null;
  }

  /** Settled runs of the job below `belowId`, last changed before `changedBefore`, oldest first. */
  async settledBelow(jobId: number, belowId: number, changedBefore: number, limit: number): Promise<number[]> {
    const rows = await this.ds.query<{ id: number | string }[]>(
      `SELECT r.id FROM runs r WHERE r.job_id = ? AND r.id < ? AND r.updated_at < ? AND r.${SETTLED} ` +
        `AND ${VERIFIED('r')} ORDER BY r.id LIMIT ?`,
      [jobId, belowId, changedBefore, limit],
    );
    return rows.map((r) => Number(r.id));
  }

  /** Whether the job has any run below `belowId` (one left for later: too young or still active). */
  async anyBelow(jobId: number, belowId: number, withOutput: boolean): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(
      `SELECT 1 FROM runs WHERE job_id = ? AND id < ?${withOutput ? ' AND output IS NOT NULL' : ''} LIMIT 1`,
      [jobId, belowId],
    );
    return rows.length > 0;
  }

  /** Settled runs of the job in [fromId, belowId) that still hold output, last changed before `changedBefore`. */
  async withOutputBelow(
    jobId: number,
    fromId: number,
    belowId: number,
    changedBefore: number,
    limit: number,
  ): Promise<number[]> {
    const rows = await this.ds.query<{ id: number | string }[]>(
      `SELECT id FROM runs WHERE job_id = ? AND id >= ? AND id < ? AND output IS NOT NULL AND updated_at < ? ` +
        `AND ${SETTLED} ORDER BY id LIMIT ?`,
      [jobId, fromId, belowId, changedBefore, limit],
    );
    return rows.map((r) => Number(r.id));
  }

  /**
   * Settled runs last changed before `before`, after `from` in (updated_at, id) order, except each existing job's
   * newest run (its schedule's cursor, and what a user looks for first). A deleted job's runs all go.
   */
  async agedOut(before: number, from: AgePosition, limit: number): Promise<{ id: number; updatedAt: number }[]> {
    const rows = await this.ds.query<{ id: number | string; updated_at: number | string }[]>(
      `SELECT r.id, r.updated_at FROM runs r WHERE r.updated_at < ? AND r.updated_at >= ? ` +
        `AND (r.updated_at > ? OR r.id > ?) AND r.${SETTLED} AND ${VERIFIED('r')} ` +
        `AND (r.id < (SELECT MAX(m.id) FROM runs m WHERE m.job_id = r.job_id) ` +
        `OR NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id)) ` +
        `ORDER BY r.updated_at, r.id LIMIT ?`,
      [before, from.at, from.at, from.id, limit],
    );
    return rows.map((r) => ({ id: Number(r.id), updatedAt: Number(r.updated_at) }));
  }

  /**
   * Notifications that ended (`sent`, `failed`) last changed before `before`, oldest first, on (status, updated_at)
   * (only the rows past the cutoff are read, however many younger ones there are); then
   * deleted by primary key, re-checked. Answers how many it chose (a row that changed meanwhile stays).
   */
  async pruneNotifications(before: number, limit: number): Promise<number> {
    const rows = await this.ds.query<{ id: number | string }[]>(
      `SELECT id FROM notifications WHERE status IN ('sent', 'failed') AND updated_at < ? ORDER BY status, updated_at LIMIT ?`,
      [before, limit],
    );
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => Number(r.id));
    await retryBusy(() =>
      this.ds.query(
        `DELETE FROM notifications WHERE id IN (${ids.map(() => '?').join(', ')}) ` +
          `AND status IN ('sent', 'failed') AND updated_at < ?`,
        [...ids, before],
      ),
    );
    return ids.length;
  }

  /** Deletes the runs among `ids` that are still settled and last changed before `changedBefore`. */
  async deleteRuns(ids: number[], changedBefore: number): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await retryBusy(() =>
      this.ds
        .createQueryBuilder()
        .delete()
        .from(RunEntity)
        .where('id IN (:...ids)', { ids })
        .andWhere(SETTLED)
        .andWhere('updated_at < :changedBefore', { changedBefore })
        .execute(),
    );
    return result.affected ?? 0;
  }

  /** Drops the output of the runs among `ids` that are still settled; their record stays. */
  async clearOutput(ids: number[], changedBefore: number): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await retryBusy(() =>
      this.ds
        .createQueryBuilder()
        .update(RunEntity)
        .set({ output: null })
        .where('id IN (:...ids)', { ids })
        .andWhere(SETTLED)
        .andWhere('updated_at < :changedBefore', { changedBefore })
        .execute(),
    );
    return result.affected ?? 0;
  }
}
