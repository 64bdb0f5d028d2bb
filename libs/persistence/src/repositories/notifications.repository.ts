import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { retryBusy } from '../db-errors';
import type { NotifyChannel, NotifyEvent, RunStatus } from '../domain';
import { placeholders, type Value } from '../sql/columns';
import { NOTIFICATION_SELECT_LIST, notificationFromRow, NotificationRow } from '../sql/notifications.table';
import type { LedgerPosition } from './runs.repository';

export type { NotificationRow } from '../sql/notifications.table';

/** One event on one channel, as the planner records it. */
export interface NewNotification {
  runId: number;
  jobId: number;
  event: NotifyEvent;
  channel: NotifyChannel;
  deliveryId: string;
  target: string;
  payload: string;
}

/** A finished run as the notification planner reads it. */
export interface FinishedRun {
  id: number;
  jobId: number;
  tickKey: string;
  attempt: number;
  scheduledAt: number;
  status: RunStatus;
  startedAt: number | null;
  exitCode: number | null;
  httpStatus: number | null;
  error: string | null;
  durationMs: number | null;
  updatedAt: number;
  /** Whether the run's next attempt exists (then this one is not the final attempt). */
  hasNext: boolean;
}

/** The final statuses that can be the subject of a notification (`recovered` is a `succeeded` run). */
export const NOTIFIABLE_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'timed_out', 'lost', 'missed'];
/** The statuses a `recovered` looks back for: the job's previous outcome was one of these. */
export const FAILURE_STATUSES: readonly RunStatus[] = ['failed', 'timed_out', 'lost', 'missed'];

const FINISHED_SQL =
  `SELECT r.id, r.job_id, r.tick_key, r.attempt, r.scheduled_at, r.status, r.started_at, r.exit_code, ` +
  `r.http_status, r.error, r.duration_ms, r.updated_at, ` +
  `(SELECT COUNT(*) FROM runs n WHERE n.job_id = r.job_id AND n.tick_key = r.tick_key ` +
  `AND n.attempt = r.attempt + 1 AND n.executor_key = r.executor_key) AS has_next ` +
  `FROM runs r WHERE r.updated_at >= ? AND (r.updated_at > ? OR r.id > ?) AND r.updated_at <= ? ` +
  `AND r.status IN (${placeholders(NOTIFIABLE_STATUSES.length)}) ORDER BY r.updated_at, r.id LIMIT ?`;

/** How a run's error is kept in a payload at most: a notification is a summary, the run has the rest. */
const PAYLOAD_ERROR_MAX = 1000;
/** last_error's column width. */
const LAST_ERROR_MAX = 512;

/**
 * The notification outbox. Rows are recorded once per (run, event, channel) whoever records them (insert-or-ignore
 * on the unique key), delivered under a lease (every write of a delivery is a compare-and-set on its owner), and
 * end `sent` or `failed`, on their own or folded into another row's delivery.
 */
@Injectable()
export class NotificationsRepository {
  private readonly mysql: boolean;

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.mysql = ds.options.type === 'mysql';
  }

  /**
   * Finished runs whose (updated_at, id) is after `after` and updated_at at most `upTo`, in that order, at most
   * `limit`: read on the (updated_at, id) index, so the cost is the rows that changed, not the history.
   */
  async findFinished(after: LedgerPosition, upTo: number, limit: number): Promise<FinishedRun[]> {
    const rows = await this.ds.query<Record<string, Value>[]>(FINISHED_SQL, [
      after.at,
      after.at,
      after.id,
      upTo,
      ...NOTIFIABLE_STATUSES,
      Math.trunc(limit),
    ]);
    const n = (v: Value) => (v === null ? null : Number(v));
    return rows.map((r) => ({
      id: Number(r.id),
      jobId: Number(r.job_id),
      tickKey: String(r.tick_key),
      attempt: Number(r.attempt),
      scheduledAt: Number(r.scheduled_at),
      status: r.status as RunStatus,
      startedAt: n(r.started_at),
      exitCode: n(r.exit_code),
      httpStatus: n(r.http_status),
      error: r.error === null ? null : String(r.error).slice(0, PAYLOAD_ERROR_MAX),
      durationMs: n(r.duration_ms),
      updatedAt: Number(r.updated_at),
      hasNext: Number(r.has_next) > 0,
    }));
  }

  /**
   * The status of the job's latest outcome before run `beforeId` that is not an attempt of the same tick (a
   * success or a failure-type; skipped and cancelled runs say nothing of the job's health), or null. On the
   * (job_id, id) index, newest first.
   */
  async previousOutcome(jobId: number, beforeId: number, tickKey: string): Promise<RunStatus | null> {
    const statuses = [...NOTIFIABLE_STATUSES];
    const [row] = await this.ds.query<{ status: RunStatus }[]>(
      `SELECT status FROM runs WHERE job_id = ? AND id < ? AND tick_key <> ? ` +
        `AND status IN (${placeholders(statuses.length)}) ORDER BY id DESC LIMIT 1`,
      [jobId, beforeId, tickKey, ...statuses],
    );
    return row?.status ?? null;
  }

  /** Records the rows; a (run, event, channel) that has one already keeps it (and its delivery id). */
  async record(rows: NewNotification[], now = Date.now()): Promise<void> {
    if (rows.length === 0) return;
    const columns =
      'run_id, job_id, event, channel, status, attempts, next_attempt_at, delivery_id, folded, target, payload, ' +
      'created_at, updated_at';
    const one = `(?, ?, ?, ?, 'pending', 0, ?, ?, 0, ?, ?, ?, ?)`;
    const values: unknown[] = [];
    for (const r of rows) {
      values.push(r.runId, r.jobId, r.event, r.channel, now, r.deliveryId, r.target, r.payload, now, now);
    }
    // Only a duplicate is ignored (never INSERT IGNORE, which also drops rows for truncation and other faults).
    const sql =
      `INSERT INTO notifications (${columns}) VALUES ${rows.map(() => one).join(', ')} ` +
      (this.mysql ? 'ON DUPLICATE KEY UPDATE id = id' : 'ON CONFLICT (run_id, event, channel) DO NOTHING');
    await retryBusy(() => this.ds.query(sql, values));
  }

  /** Pending rows due at `now`, not folded into another and not held by a live lease: oldest due first. */
  async findDue(now: number, limit: number): Promise<NotificationRow[]> {
    const rows = await this.ds.query<Record<string, Value>[]>(
      `SELECT ${NOTIFICATION_SELECT_LIST} FROM notifications WHERE status = 'pending' AND next_attempt_at <= ? ` +
        `AND folded_into IS NULL AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at, id LIMIT ?`,
      [now, now, Math.trunc(limit)],
    );
    return rows.map(notificationFromRow);
  }

  /**
   * Takes the row for `owner` until `now + leaseMs` (compare-and-set: pending, due, not folded, no live lease):
   * of several dispatchers trying, one gets it. Answers the row as taken, or null.
   */
  async claim(id: number, owner: string, now: number, leaseMs: number): Promise<NotificationRow | null> {
    const n = await this.exec(
      `UPDATE notifications SET lease_owner = ?, lease_until = ?, updated_at = ? WHERE id = ? AND status = 'pending' ` +
        `AND next_attempt_at <= ? AND folded_into IS NULL AND (lease_until IS NULL OR lease_until < ?)`,
      [owner, now + leaseMs, now, id, now, now],
    );
    return n > 0 ? this.findById(id) : null;
  }

  async findById(id: number): Promise<NotificationRow | null> {
    const [row] = await this.ds.query<Record<string, Value>[]>(
      `SELECT ${NOTIFICATION_SELECT_LIST} FROM notifications WHERE id = ?`,
      [id],
    );
    return row ? notificationFromRow(row) : null;
  }

  /**
   * The (job, event, channel)'s delivery slot: true when it was free at `now` and is now taken until `now +
   * intervalMs` (compare-and-set, so one delivery per interval whoever asks); false with the instant it frees.
   */
  async takeSlot(
    key: Pick<NotificationRow, 'jobId' | 'event' | 'channel'>,
    now: number,
    intervalMs: number,
  ): Promise<{ taken: true } | { taken: false; freeAt: number }> {
    const params = [key.jobId, key.event, key.channel];
    await retryBusy(() =>
      this.ds.query(
        `INSERT INTO notification_gates (job_id, event, channel, next_at) VALUES (?, ?, ?, 0) ` +
          (this.mysql ? 'ON DUPLICATE KEY UPDATE next_at = next_at' : 'ON CONFLICT DO NOTHING'),
        params,
      ),
    );
    const n = await this.exec(
      `UPDATE notification_gates SET next_at = ? WHERE job_id = ? AND event = ? AND channel = ? AND next_at <= ?`,
      [now + intervalMs, ...params, now],
    );
    if (n > 0) return { taken: true };
    const [row] = await this.ds.query<{ next_at: Value }[]>(
      `SELECT next_at FROM notification_gates WHERE job_id = ? AND event = ? AND channel = ?`,
      params,
    );
    return { taken: false, freeAt: Number(row?.next_at ?? now) };
  }

  /**
   * Folds the key's other pending events that no delivery has started (no attempt, no live lease) into `row`'s
   * delivery; answers how many are now folded into it (those of an earlier call included).
   */
  async foldInto(row: NotificationRow, now: number): Promise<number> {
    await this.exec(
      // Only events bound for the same target: a job whose URL changed meanwhile sends its new events to the new one.
      `UPDATE notifications SET folded_into = ?, updated_at = ? WHERE job_id = ? AND event = ? AND channel = ? ` +
        `AND target = ? AND status = 'pending' AND folded_into IS NULL AND attempts = 0 AND id <> ? ` +
        `AND (lease_until IS NULL OR lease_until < ?)`,
      [row.id, now, row.jobId, row.event, row.channel, row.target, row.id, now],
    );
    const [count] = await this.ds.query<{ n: Value }[]>(
      `SELECT COUNT(*) AS n FROM notifications WHERE folded_into = ?`,
      [row.id],
    );
    const folded = Number(count?.n ?? 0);
    await this.exec(`UPDATE notifications SET folded = ? WHERE id = ? AND lease_owner = ?`, [
      folded,
      row.id,
      row.leaseOwner,
    ]);
    return folded;
  }

  /** Counts the attempt about to be made (owner's CAS); false when the lease was lost. */
  startAttempt(row: NotificationRow, now: number): Promise<boolean> {
    return this.owned(row, 'attempts = attempts + 1, updated_at = ?', [now]);
  }

  /** Delivered: the row and the events folded into it are `sent`. */
  async markSent(row: NotificationRow, now: number): Promise<boolean> {
    const ok = await this.owned(
      row,
      `status = 'sent', sent_at = ?, last_error = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ?`,
      [now, now],
    );
    if (ok) await this.settleFolded(row.id, 'sent', null, now);
    return ok;
  }

  /** Tried again at `at`; the lease is given up. */
  retryAt(row: NotificationRow, at: number, error: string, now: number): Promise<boolean> {
    return this.owned(
      row,
      `next_attempt_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?`,
      [at, error.slice(0, LAST_ERROR_MAX), now],
    );
  }

  /** Not tried before `at` (its key's min_interval); not an attempt. */
  postpone(row: NotificationRow, at: number, now: number): Promise<boolean> {
    return this.owned(row, `next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?`, [at, now]);
  }

  /** Given up: the row and the events folded into it are `failed`, with the reason. */
  async markFailed(row: NotificationRow, error: string, now: number): Promise<boolean> {
    const reason = error.slice(0, LAST_ERROR_MAX);
    const ok = await this.owned(
      row,
      `status = 'failed', last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?`,
      [reason, now],
    );
    if (ok) await this.settleFolded(row.id, 'failed', `folded into delivery ${row.id}, which failed: ${reason}`, now);
    return ok;
  }

  /**
   * Settles rows folded into a delivery that ended while they stayed `pending` (a dispatcher killed between the
   * delivery's own write and the one settling its folded rows); answers how many. Bounded: the pending rows on the
   * status index, at most `limit` deliveries a call.
   */
  async settleOrphans(now: number, limit = 100): Promise<number> {
    const carriers = await this.ds.query<{ id: Value; status: 'sent' | 'failed'; last_error: string | null }[]>(
      `SELECT DISTINCT c.id, c.status, c.last_error FROM notifications f JOIN notifications c ON c.id = f.folded_into ` +
        `WHERE f.status = 'pending' AND c.status IN ('sent', 'failed') LIMIT ${Math.trunc(limit)}`,
    );
    let n = 0;
    for (const c of carriers) {
      const reason = c.status === 'sent' ? null : `folded into delivery ${Number(c.id)}, which failed: ${c.last_error}`;
      n += await this.settleFolded(Number(c.id), c.status, reason, now);
    }
    return n;
  }

  /** Pending rows, at most `cap` counted (a gauge, read every few seconds: bounded on the status index). */
  async countPending(cap = 10_000): Promise<number> {
    const [row] = await this.ds.query<{ n: Value }[]>(
      `SELECT COUNT(*) AS n FROM (SELECT id FROM notifications WHERE status = 'pending' LIMIT ${Math.trunc(cap)}) p`,
    );
    return Number(row?.n ?? 0);
  }

  private settleFolded(id: number, status: 'sent' | 'failed', error: string | null, now: number): Promise<number> {
    return this.exec(
      `UPDATE notifications SET status = ?, sent_at = ?, last_error = ?, updated_at = ? ` +
        `WHERE folded_into = ? AND status = 'pending'`,
      [status, status === 'sent' ? now : null, error === null ? null : error.slice(0, LAST_ERROR_MAX), now, id],
    );
  }

  /** An update of a row this owner's lease holds; false when another has taken it meanwhile (the lease ran out). */
  private async owned(row: NotificationRow, set: string, params: unknown[]): Promise<boolean> {
    const n = await this.exec(
      `UPDATE notifications SET ${set} WHERE id = ? AND status = 'pending' AND lease_owner = ? AND lease_until = ?`,
      [...params, row.id, row.leaseOwner, row.leaseUntil],
    );
    return n > 0;
  }

  /** Runs a write and answers the rows it changed (both dialects). */
  private exec(sql: string, params: unknown[]): Promise<number> {
    return retryBusy(async () => {
      const runner = this.ds.createQueryRunner();
      try {
        const result = (await runner.query(sql, params, true)) as { affected?: number };
        return result.affected ?? 0;
      } finally {
        await runner.release();
      }
    });
  }
}
