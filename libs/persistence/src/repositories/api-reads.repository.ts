import { Brackets, DataSource } from 'typeorm';
import { isStatementTimeout, isUnreachable } from '../db-errors';
import type { DependencyCondition, DependencyMode, NotificationStatus, RunStatus } from '../domain';
import { NOTIFICATION_SELECT_LIST, notificationFromRow, NotificationRow } from '../sql/notifications.table';
import { placeholders, type Value } from '../sql/columns';
import { JobEntity } from '../entities/job.entity';
import { RunEntity } from '../entities/run.entity';
import { PersistenceError } from '../persistence.error';

/** Lists count exactly up to this many rows; beyond, `total` says this many and `totalCapped` is true. */
export const TOTAL_CAP = 10_000;

export interface Page<T> {
  items: T[];
  total: number;
  totalCapped: boolean;
}

/** The rows of `sql` (a SELECT of anything) counted up to TOTAL_CAP: the read stops there. */
export async function cappedCount(ds: DataSource, sql: string, params: unknown[]): Promise<Omit<Page<never>, 'items'>> {
  const [row] = await ds.query<{ n: number | string }[]>(
    `SELECT COUNT(*) AS n FROM (${sql} LIMIT ${TOTAL_CAP + 1}) capped`,
    params,
  );
  const n = Number(row?.n ?? 0);
  return n > TOTAL_CAP ? { total: TOTAL_CAP, totalCapped: true } : { total: n, totalCapped: false };
}

export interface JobFilter {
  limit: number;
  offset: number;
  q?: string;
  group?: string;
  enabled?: boolean;
  /** Restricts to jobs whose newest run has this status. */
  lastStatus?: string;
}

export interface RunFilter {
  limit: number;
  offset: number;
  jobId?: number;
  status?: RunStatus;
  /** Keyset pagination: only runs with a smaller id (the last id of the previous page). */
  beforeId?: number;
}

export interface NotificationFilter {
  limit: number;
  offset: number;
  status?: NotificationStatus;
}

export type LastRun = Pick<RunEntity, 'id' | 'status' | 'scheduledAt'>;

/** A child of a job, as its response lists it. */
export interface JobChild {
  jobId: number;
  name: string;
  on: DependencyCondition;
  enabled: boolean;
}

/** An edge of the dependency graph as the API reads it. */
export interface GraphEdge {
  parentId: number;
  childId: number;
  on: DependencyCondition;
}

/** A job as a node of the graph answer. */
export interface GraphNode {
  id: number;
  name: string;
  enabled: boolean;
  cron: string;
  dependencyMode: DependencyMode;
}

/** A run as a link to it: what a run's upstream and downstream show. */
export interface RunRef {
  id: number;
  jobId: number;
  tickKey: string;
  attempt: number;
  executorKey: string;
  status: RunStatus;
  scheduledAt: number;
  finishedAt: number | null;
}

/** Ids a statement at most. */
const IDS_CHUNK = 500;

/** A position in a feed ordered by (changedAt, id): what has been read is at or before it. */
export interface FeedCursor {
  at: number;
  id: number;
}

export interface ChangedRun {
  id: number;
  jobId: number;
  status: RunStatus;
  updatedAt: number;
}

/**
 * What the REST API, the event feed and /metrics read. On MySQL this is its own small pool with a statement
 * timeout (ApiDataSource), so a slow or hostile read can not hold the connections that claim ticks. Every query
 * here costs the page it returns, not the history behind it: counts stop at TOTAL_CAP, run pages follow an index
 * in id order (with `beforeId` for keyset paging), the feed is a keyset cursor.
 */
export class ApiReads {
  constructor(private readonly source: DataSource | (() => Promise<DataSource>)) {}

  private ds(): Promise<DataSource> {
    return typeof this.source === 'function' ? this.source() : Promise.resolve(this.source);
  }

  /** A read the server cut off at the statement timeout is a 503 naming the way out, not a 500. */
  private async timed<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (e) {
      if (isStatementTimeout(e)) {
        throw new PersistenceError(
          'TOO_SLOW',
          'the query ran past the API statement timeout; narrow it (filters, a smaller limit, beforeId)',
        );
      }
      if (isUnreachable(e)) {
        throw new PersistenceError('TOO_SLOW', `the database is unavailable for reads: ${(e as Error).message}`);
      }
      throw e;
    }
  }

  findJob(id: number): Promise<JobEntity | null> {
    return this.timed(async () => {
      return (await this.ds()).getRepository(JobEntity).findOneBy({ id });
    });
  }

  findRun(id: number): Promise<RunEntity | null> {
    return this.timed(async () => {
      return (await this.ds()).getRepository(RunEntity).findOneBy({ id });
    });
  }

  listJobs(f: JobFilter): Promise<Page<JobEntity>> {
    return this.timed(async () => {
      const ds = await this.ds();
      const qb = ds.getRepository(JobEntity).createQueryBuilder('j');
      if (f.q) {
        // '!' as the escape character: a backslash literal ('\\') is a syntax error on MySQL, whose string literals
        // treat a backslash as an escape, while SQLite requires exactly one character.
        const like = `%${f.q.replace(/[!%_]/g, (c) => `!${c}`)}%`;
        qb.andWhere(
          new Brackets((w) => {
            w.where(`j.name LIKE :like ESCAPE '!'`, { like }).orWhere(`j.description LIKE :like ESCAPE '!'`, { like });
          }),
        );
      }
      if (f.group !== undefined) qb.andWhere('j.group_name = :group', { group: f.group });
      if (f.enabled !== undefined) qb.andWhere('j.enabled = :enabled', { enabled: f.enabled });
      if (f.lastStatus !== undefined) {
        qb.andWhere(`(SELECT r.status FROM runs r WHERE r.job_id = j.id ORDER BY r.id DESC LIMIT 1) = :lastStatus`, {
          lastStatus: f.lastStatus,
        });
      }
      const items = await qb.clone().orderBy('j.id', 'ASC').offset(f.offset).limit(f.limit).getMany();
      const [sql, params] = qb.select('1').getQueryAndParameters();
      return { items, ...(await cappedCount(ds, sql, params)) };
    });
  }

  listRuns(f: RunFilter): Promise<Page<RunEntity>> {
    return this.timed(async () => {
      const ds = await this.ds();
      const qb = ds.getRepository(RunEntity).createQueryBuilder('r');
      if (f.jobId !== undefined) qb.andWhere('r.job_id = :jobId', { jobId: f.jobId });
      if (f.status !== undefined) qb.andWhere('r.status = :status', { status: f.status });
      // The count reads an index only (never the rows, whose output makes them large): with no filter, a condition
      // every row meets on (status, id) makes both engines count on that index.
      const counted = qb.clone().select('1');
      if (f.jobId === undefined && f.status === undefined) counted.andWhere("r.status >= ''");
      const [sql, params] = counted.getQueryAndParameters();
      if (f.beforeId !== undefined) qb.andWhere('r.id < :beforeId', { beforeId: f.beforeId });
      const items = await qb.orderBy('r.id', 'DESC').offset(f.offset).limit(f.limit).getMany();
      return { items, ...(await cappedCount(ds, sql, params)) };
    });
  }

  /**
   * The newest run of each job, for the API's `lastRun`: one index lookup per job (MAX(id) of one job), whatever
   * its history.
   */
  lastRuns(jobIds: number[]): Promise<Map<number, LastRun>> {
    return this.timed(async () => {
      const out = new Map<number, LastRun>();
      if (jobIds.length === 0) return out;
      const ds = await this.ds();
      for (let i = 0; i < jobIds.length; i += 100) {
        const chunk = jobIds.slice(i, i + 100);
        // Two steps: MariaDB runs `id IN (SELECT MAX … UNION ALL …)` as a scan of the runs table.
        const newest = await ds.query<{ id: number | string | null }[]>(
          chunk.map(() => 'SELECT MAX(id) AS id FROM runs WHERE job_id = ?').join(' UNION ALL '),
          chunk,
        );
        const ids = newest.filter((r) => r.id !== null).map((r) => Number(r.id));
        if (ids.length === 0) continue;
        const rows = await ds.query<
          { id: number | string; job_id: number | string; status: RunStatus; scheduled_at: number | string }[]
        >(`SELECT id, job_id, status, scheduled_at FROM runs WHERE id IN (${ids.map(() => '?').join(', ')})`, ids);
        for (const r of rows) {
          out.set(Number(r.job_id), { id: Number(r.id), status: r.status, scheduledAt: Number(r.scheduled_at) });
        }
      }
      return out;
    });
  }

  /** The children of each of these jobs (from job_dependencies, on its (parent_id, child_id) index), by id. */
  childrenOf(parentIds: number[]): Promise<Map<number, JobChild[]>> {
    return this.timed(async () => {
      const out = new Map<number, JobChild[]>();
      const ds = await this.ds();
      for (let i = 0; i < parentIds.length; i += IDS_CHUNK) {
        const part = parentIds.slice(i, i + IDS_CHUNK);
        const rows = await ds.query<
          {
            parent_id: number | string;
            child_id: number | string;
            on_cond: DependencyCondition;
            name: string;
            enabled: number | boolean;
          }[]
        >(
          `SELECT d.parent_id, d.child_id, d.on_cond, j.name, j.enabled FROM job_dependencies d ` +
            `JOIN jobs j ON j.id = d.child_id WHERE d.parent_id IN (${placeholders(part.length)}) ` +
            `ORDER BY d.parent_id, d.child_id`,
          part,
        );
        for (const r of rows) {
          const list = out.get(Number(r.parent_id)) ?? [];
          list.push({ jobId: Number(r.child_id), name: r.name, on: r.on_cond, enabled: Boolean(Number(r.enabled)) });
          out.set(Number(r.parent_id), list);
        }
      }
      return out;
    });
  }

  /** The edges into (`child`) or out of (`parent`) these jobs. */
  edgesOf(ids: number[], side: 'parent' | 'child'): Promise<GraphEdge[]> {
    return this.timed(async () => {
      const out: GraphEdge[] = [];
      const ds = await this.ds();
      const column = side === 'parent' ? 'parent_id' : 'child_id';
      for (let i = 0; i < ids.length; i += IDS_CHUNK) {
        const part = ids.slice(i, i + IDS_CHUNK);
        const rows = await ds.query<
          { parent_id: number | string; child_id: number | string; on_cond: DependencyCondition }[]
        >(
          `SELECT parent_id, child_id, on_cond FROM job_dependencies WHERE ${column} IN (${placeholders(part.length)})`,
          part,
        );
        for (const r of rows) out.push({ parentId: Number(r.parent_id), childId: Number(r.child_id), on: r.on_cond });
      }
      return out;
    });
  }

  /** The jobs of these ids that exist, as graph nodes. */
  graphNodes(ids: number[]): Promise<GraphNode[]> {
    return this.timed(async () => {
      const out: GraphNode[] = [];
      const ds = await this.ds();
      for (let i = 0; i < ids.length; i += IDS_CHUNK) {
        const part = ids.slice(i, i + IDS_CHUNK);
        const rows = await ds.query<
          {
            id: number | string;
            name: string;
            enabled: number | boolean;
            cron: string;
            dependency_mode: DependencyMode;
          }[]
        >(`SELECT id, name, enabled, cron, dependency_mode FROM jobs WHERE id IN (${placeholders(part.length)})`, part);
        for (const r of rows) {
          out.push({
            id: Number(r.id),
            name: r.name,
            enabled: Boolean(Number(r.enabled)),
            cron: r.cron,
            dependencyMode: r.dependency_mode,
          });
        }
      }
      return out;
    });
  }

  /** The runs of these ids, as links (never their output). */
  runRefs(ids: number[]): Promise<RunRef[]> {
    return this.timed(async () => {
      const out: RunRef[] = [];
      const ds = await this.ds();
      for (let i = 0; i < ids.length; i += IDS_CHUNK) {
        const part = ids.slice(i, i + IDS_CHUNK);
        out.push(...(await this.refRows(ds, `id IN (${placeholders(part.length)})`, part)));
      }
      return out;
    });
  }

  /**
   * The runs of each (job, tick key) occasion: its newest attempt (one per executor with broadcast), on the ledger's
   * unique key. Bounded: an occasion has at most a few attempts per executor.
   */
  latestRunsOf(occasions: { jobId: number; tickKey: string }[]): Promise<RunRef[]> {
    return this.timed(async () => {
      const out: RunRef[] = [];
      const ds = await this.ds();
      for (let i = 0; i < occasions.length; i += 100) {
        const part = occasions.slice(i, i + 100);
        const found = await this.refRows(
          ds,
          part.map(() => '(job_id = ? AND tick_key = ?)').join(' OR '),
          part.flatMap((o) => [o.jobId, o.tickKey]),
        );
        const newest = new Map<string, RunRef>();
        for (const r of found) {
          const key = `${r.jobId}\u0000${r.tickKey}\u0000${r.executorKey}`;
          const seen = newest.get(key);
          if (!seen || r.attempt > seen.attempt) newest.set(key, r);
        }
        out.push(...newest.values());
      }
      return out.sort((a, b) => a.id - b.id);
    });
  }

  /** The names of the jobs of these ids that exist. */
  jobNames(ids: number[]): Promise<Map<number, string>> {
    return this.timed(async () => {
      const out = new Map<number, string>();
      const ds = await this.ds();
      for (let i = 0; i < ids.length; i += IDS_CHUNK) {
        const part = ids.slice(i, i + IDS_CHUNK);
        const rows = await ds.query<{ id: number | string; name: string }[]>(
          `SELECT id, name FROM jobs WHERE id IN (${placeholders(part.length)})`,
          part,
        );
        for (const r of rows) out.set(Number(r.id), r.name);
      }
      return out;
    });
  }

  private async refRows(ds: DataSource, where: string, params: unknown[]): Promise<RunRef[]> {
    const rows = await ds.query<
      {
        id: number | string;
        job_id: number | string;
        tick_key: string;
        attempt: number | string;
        executor_key: string;
        status: RunStatus;
        scheduled_at: number | string;
        finished_at: number | string | null;
      }[]
    >(
      `SELECT id, job_id, tick_key, attempt, executor_key, status, scheduled_at, finished_at FROM runs WHERE ${where}`,
      params,
    );
    return rows.map((r) => ({
      id: Number(r.id),
      jobId: Number(r.job_id),
      tickKey: r.tick_key,
      attempt: Number(r.attempt),
      executorKey: r.executor_key,
      status: r.status,
      scheduledAt: Number(r.scheduled_at),
      finishedAt: r.finished_at === null ? null : Number(r.finished_at),
    }));
  }

  /**
   * Runs changed after the cursor, in (updated_at, id) order, at most `limit`; with `upTo`, only those changed at
   * or before that instant. Reads the (updated_at, id) index from the cursor on: a page costs its rows.
   */
  runsChangedAfter(after: FeedCursor, upTo: number | null, limit: number): Promise<ChangedRun[]> {
    return this.timed(async () => {
      const ds = await this.ds();
      const rows = await ds.query<
        { id: number | string; job_id: number | string; status: RunStatus; updated_at: number | string }[]
      >(
        `SELECT id, job_id, status, updated_at FROM runs ` +
          `WHERE updated_at >= ? AND (updated_at > ? OR id > ?)${upTo === null ? '' : ' AND updated_at <= ?'} ` +
          `ORDER BY updated_at, id LIMIT ${Math.trunc(limit)}`,
        upTo === null ? [after.at, after.at, after.id] : [after.at, after.at, after.id, upTo],
      );
      return rows.map((r) => ({
        id: Number(r.id),
        jobId: Number(r.job_id),
        status: r.status,
        updatedAt: Number(r.updated_at),
      }));
    });
  }

  /** Outbox rows, newest first, on the (status, id) index or the primary key. */
  listNotifications(f: NotificationFilter): Promise<Page<NotificationRow>> {
    return this.timed(async () => {
      const ds = await this.ds();
      const where = f.status === undefined ? '' : 'WHERE status = ?';
      const params = f.status === undefined ? [] : [f.status];
      const rows = await ds.query<Record<string, Value>[]>(
        `SELECT ${NOTIFICATION_SELECT_LIST} FROM notifications ${where} ORDER BY id DESC ` +
          `LIMIT ${Math.trunc(f.limit)} OFFSET ${Math.trunc(f.offset)}`,
        params,
      );
      const count = await cappedCount(ds, `SELECT 1 FROM notifications ${where}`, params);
      return { items: rows.map(notificationFromRow), ...count };
    });
  }

  /** Runs per status (a full count: /metrics, until the operations work rebuilds it on counters). */
  countByStatus(): Promise<Map<string, number>> {
    return this.timed(async () => {
      const rows = await (
        await this.ds()
      ).query<{ status: string; n: string | number }[]>(`SELECT status, COUNT(*) AS n FROM runs GROUP BY status`);
      return new Map(rows.map((r) => [r.status, Number(r.n)]));
    });
  }
}
