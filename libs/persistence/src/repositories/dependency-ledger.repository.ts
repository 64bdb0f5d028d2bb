import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { retryBusy } from '../db-errors';
import type { DependencyCondition, RunStatus } from '../domain';
import { placeholders, type Value } from '../sql/columns';
import type { FinishedRun } from './notifications.repository';
import type { LedgerPosition } from './runs.repository';

/** A parent's finished run as the dependency pass reads it: a finished run's ledger facts and when it ended. */
export type ParentRun = Pick<
  FinishedRun,
  'id' | 'jobId' | 'tickKey' | 'attempt' | 'scheduledAt' | 'status' | 'startedAt' | 'updatedAt' | 'hasNext'
> & { finishedAt: number | null };

/** One edge of the dependency graph: `childId` runs when `parentId`'s run satisfies `on`. */
export interface DependencyEdge {
  childId: number;
  parentId: number;
  on: DependencyCondition;
}

/** The final statuses that can start a child: a success, or a failure-type outcome. */
export const OUTCOME_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'timed_out', 'lost'];

/** Parent job ids a statement filters on at most; with more, rows are filtered in memory. */
const FILTER_MAX = 500;
const CHUNK = 500;

const RUN_FIELDS =
  `r.id, r.job_id, r.tick_key, r.attempt, r.scheduled_at, r.status, r.started_at, r.finished_at, r.updated_at, ` +
  `(SELECT COUNT(*) FROM runs n WHERE n.job_id = r.job_id AND n.tick_key = r.tick_key ` +
  `AND n.attempt = r.attempt + 1 AND n.executor_key = r.executor_key) AS has_next`;

/**
 * Driven by the (updated_at, id) index whatever the planner would pick: with a job filter SQLite chose
 * `ix_runs_job_status` and sorted every finished run the parents ever had (a cost of the history, not of the
 * changes).
 */
const finishedSql = (jobs: number, hint: string) =>
  `SELECT ${RUN_FIELDS} FROM runs r ${hint} WHERE r.updated_at >= ? AND (r.updated_at > ? OR r.id > ?) AND r.updated_at <= ? ` +
  `AND r.status IN (${placeholders(OUTCOME_STATUSES.length)})` +
  (jobs > 0 ? ` AND r.job_id IN (${placeholders(jobs)})` : '') +
  ` ORDER BY r.updated_at, r.id LIMIT ?`;

const CANDIDATES_SQL =
  `SELECT ${RUN_FIELDS} FROM runs r WHERE r.job_id = ? AND r.scheduled_at >= ? AND r.scheduled_at <= ? ` +
  `AND r.status IN (${placeholders(OUTCOME_STATUSES.length)}) ORDER BY r.scheduled_at DESC, r.id DESC LIMIT ?`;

function parentRunOf(r: Record<string, Value>): ParentRun {
  const n = (v: Value) => (v === null ? null : Number(v));
  return {
    id: Number(r.id),
    jobId: Number(r.job_id),
    tickKey: String(r.tick_key),
    attempt: Number(r.attempt),
    scheduledAt: Number(r.scheduled_at),
    status: r.status as RunStatus,
    startedAt: n(r.started_at),
    finishedAt: n(r.finished_at),
    updatedAt: Number(r.updated_at),
    hasNext: Number(r.has_next) > 0,
  };
}

/**
 * What the dependency pass reads and keeps: the graph's edges by parent, parents' finished runs in the ledger's
 * (updated_at, id) order, the runs an `all` occasion can be made of, and the pass's shared cursor.
 */
@Injectable()
export class DependencyLedger {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Every job that some job depends on. */
  async parentIds(): Promise<number[]> {
    const rows = await this.ds.query<{ parent_id: number | string }[]>(
      `SELECT DISTINCT parent_id FROM job_dependencies`,
    );
    return rows.map((r) => Number(r.parent_id));
  }

  /** The edges out of these parents. */
  async edgesFrom(parentIds: number[]): Promise<DependencyEdge[]> {
    const out: DependencyEdge[] = [];
    for (let i = 0; i < parentIds.length; i += CHUNK) {
      const ids = parentIds.slice(i, i + CHUNK);
      const rows = await this.ds.query<{ child_id: number | string; parent_id: number | string; on_cond: string }[]>(
        `SELECT child_id, parent_id, on_cond FROM job_dependencies WHERE parent_id IN (${placeholders(ids.length)})`,
        ids,
      );
      for (const r of rows) {
        out.push({ childId: Number(r.child_id), parentId: Number(r.parent_id), on: r.on_cond as DependencyCondition });
      }
    }
    return out;
  }

  /**
   * Finished runs (success or failure-type) after `after` up to `upTo` in (updated_at, id) order, of these jobs
   * (filtered in the statement when they are few, else here).
   */
  async finishedAfter(after: LedgerPosition, upTo: number, jobIds: ReadonlySet<number>, limit: number): Promise<{
    runs: ParentRun[];
    /** Where the read got to (the last row read, whether or not of these jobs). */
    reached: LedgerPosition | null;
    full: boolean;
  }> {
    const filter = jobIds.size <= FILTER_MAX ? [...jobIds] : [];
    const hint = this.ds.options.type === 'mysql' ? 'FORCE INDEX (ix_runs_updated)' : 'INDEXED BY ix_runs_updated';
    const rows = await this.ds.query<Record<string, Value>[]>(finishedSql(filter.length, hint), [
      after.at,
      after.at,
      after.id,
      upTo,
      ...OUTCOME_STATUSES,
      ...filter,
      Math.trunc(limit),
    ]);
    const runs = rows.map(parentRunOf);
    const last = runs[runs.length - 1];
    return {
      runs: filter.length > 0 ? runs : runs.filter((r) => jobIds.has(r.jobId)),
      reached: last ? { at: last.updatedAt, id: last.id } : null,
      full: rows.length >= limit,
    };
  }

  /** The job's finished runs scheduled within [from, to], newest first, at most `limit`. */
  async candidates(jobId: number, from: number, to: number, limit = 200): Promise<ParentRun[]> {
    const rows = await this.ds.query<Record<string, Value>[]>(CANDIDATES_SQL, [
      jobId,
      from,
      to,
      ...OUTCOME_STATUSES,
      Math.trunc(limit),
    ]);
    return rows.map(parentRunOf);
  }

  /** The finished runs of these jobs scheduled at exactly `at` (an occasion of parents that share a schedule). */
  async runsAt(jobIds: number[], at: number): Promise<ParentRun[]> {
    const out: ParentRun[] = [];
    for (let i = 0; i < jobIds.length; i += CHUNK) {
      const part = jobIds.slice(i, i + CHUNK);
      const rows = await this.ds.query<Record<string, Value>[]>(
        `SELECT ${RUN_FIELDS} FROM runs r WHERE r.job_id IN (${placeholders(part.length)}) AND r.scheduled_at = ? ` +
          `AND r.status IN (${placeholders(OUTCOME_STATUSES.length)})`,
        [...part, at, ...OUTCOME_STATUSES],
      );
      out.push(...rows.map(parentRunOf));
    }
    return out;
  }

  /** These runs (the parent runs of an occasion), in id order; absent ids are pruned. */
  async runsByIds(ids: number[]): Promise<ParentRun[]> {
    const out: ParentRun[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const part = ids.slice(i, i + CHUNK);
      const rows = await this.ds.query<Record<string, Value>[]>(
        `SELECT ${RUN_FIELDS} FROM runs r WHERE r.id IN (${placeholders(part.length)}) ORDER BY r.id`,
        part,
      );
      out.push(...rows.map(parentRunOf));
    }
    return out;
  }

  /** The pass cursor stored under `name`, or null. */
  async cursor(name: string): Promise<LedgerPosition | null> {
    const rows = await this.ds.query<{ pos_at: number | string; pos_id: number | string }[]>(
      `SELECT pos_at, pos_id FROM pass_cursors WHERE name = ?`,
      [name],
    );
    return rows.length > 0 ? { at: Number(rows[0].pos_at), id: Number(rows[0].pos_id) } : null;
  }

  /** Moves the stored cursor forward to `to` (never back: each dispatcher stores how far it got). */
  async advanceCursor(name: string, to: LedgerPosition): Promise<void> {
    const ignore = this.ds.options.type === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
    await retryBusy(async () => {
      await this.ds.query(`${ignore} INTO pass_cursors (name, pos_at, pos_id) VALUES (?, ?, ?)`, [name, to.at, to.id]);
      await this.ds.query(
        `UPDATE pass_cursors SET pos_at = ?, pos_id = ? WHERE name = ? AND (pos_at < ? OR (pos_at = ? AND pos_id < ?))`,
        [
        to.at,
        to.id,
        name,
        to.at,
          to.at,
          to.id,
        ],
      );
    });
  }
}
