import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { Database as SqliteDatabase } from 'better-sqlite3';
import { isDuplicateKey, retryBusy } from '../db-errors';
import { placeholders } from '../sql/columns';
import { tickRef } from './runs.repository';

/** A parent run of one occasion of a child job. */
export interface ParentRunRef {
  runId: number;
  jobId: number;
}

/** What reserving an occasion's parent runs came to. */
export type Reservation =
  /** Every parent run is linked to this occasion (now, or already by an earlier pass: the same key). */
  | { kind: 'reserved' }
  /** Some parent runs already count toward other occasions of the child (run id → that occasion's tick key). */
  | { kind: 'taken'; taken: Map<number, string> }
  /** `exclusive`: the key already stands for another set of parent runs (two occasions, one earliest instant). */
  | { kind: 'key_taken' };

/** Keys a statement at most: far below SQLite's bound variables and MySQL's packet limit. */
const CHUNK = 500;

/**
 * `run_links`: which parent runs each run of a child job consumed. The primary key (child_job_id, parent_run_id)
 * lets a parent run count toward one occasion of a child only; a run's parents are the links of its (job, tick
 * key), so every attempt of it has the same ones.
 */
@Injectable()
export class RunLinksRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /**
   * Links the parent runs to the child's occasion `childTickKey`, all or none, in one transaction. A parent run
   * already linked to another occasion of the child answers `taken` and writes nothing; with `exclusive` (an `all`
   * occasion, a set chosen now), so does one already linked to this very key: the set must be new as a whole. Without
   * it (an `any` occasion, its key given by the parent run), a second call with the same links answers `reserved`.
   */
  async reserve(
    childJobId: number,
    childTickKey: string,
    parents: ParentRunRef[],
    opts: { exclusive: boolean },
    now = Date.now(),
  ): Promise<Reservation> {
    if (parents.length === 0) throw new Error('an occasion has at least one parent run');
    if (parents.length > CHUNK) throw new Error(`an occasion has at most ${CHUNK} parent runs`);
    const ids = parents.map((p) => p.runId);
    const existingSql =
      `SELECT parent_run_id, child_tick_key FROM run_links ` +
      `WHERE child_job_id = ? AND parent_run_id IN (${placeholders(ids.length)})`;
    const decide = (rows: { parent_run_id: number | string; child_tick_key: string }[]) => {
      const taken = new Map<number, string>();
      for (const r of rows) {
        if (opts.exclusive || r.child_tick_key !== childTickKey) taken.set(Number(r.parent_run_id), r.child_tick_key);
      }
      const linked = new Set(rows.map((r) => Number(r.parent_run_id)));
      return { taken, missing: parents.filter((p) => !linked.has(p.runId)) };
    };
    const keySql = `SELECT 1 AS one FROM run_links WHERE child_job_id = ? AND child_tick_key = ? LIMIT 1`;
    const values = (list: ParentRunRef[]) => list.flatMap((p) => [childJobId, p.runId, p.jobId, childTickKey, now]);
    const insertFor = (n: number) =>
      `INSERT INTO run_links (child_job_id, parent_run_id, parent_job_id, child_tick_key, created_at) VALUES ` +
      Array<string>(n).fill('(?, ?, ?, ?, ?)').join(', ');
    if (this.ds.options.type === 'better-sqlite3') {
      // Synchronous on the driver's one connection: no statement of another caller can join it.
      const db = (this.ds.driver as unknown as { databaseConnection: SqliteDatabase }).databaseConnection;
      const tx = db.transaction((): Reservation => {
        const rows = db.prepare(existingSql).all(childJobId, ...ids) as {
          parent_run_id: number;
          child_tick_key: string;
        }[];
        const { taken, missing } = decide(rows);
        if (taken.size > 0) return { kind: 'taken', taken };
        if (opts.exclusive && db.prepare(keySql).get(childJobId, childTickKey)) return { kind: 'key_taken' };
        if (missing.length > 0) db.prepare(insertFor(missing.length)).run(...values(missing));
        return { kind: 'reserved' };
      });
      return retryBusy(() => Promise.resolve(tx.immediate()));
    }
    // MySQL: the locking read sees the latest committed links (and locks their gaps, so a second reserver of the same
    // runs waits here or is the deadlock victim, retried whole); a concurrent insert of the same key, refused as a
    // duplicate, is read again the same way.
    for (let attempt = 0; ; attempt++) {
      try {
        return await retryBusy(() =>
          this.ds.transaction(async (m): Promise<Reservation> => {
            const rows = await m.query<{ parent_run_id: number | string; child_tick_key: string }[]>(
              `${existingSql} FOR UPDATE`,
              [childJobId, ...ids],
            );
            const { taken, missing } = decide(rows);
            if (taken.size > 0) return { kind: 'taken', taken };
            if (opts.exclusive && (await m.query<unknown[]>(`${keySql} FOR UPDATE`, [childJobId, childTickKey])).length > 0)
              return { kind: 'key_taken' };
            if (missing.length > 0) await m.query(insertFor(missing.length), values(missing));
            return { kind: 'reserved' };
          }),
        );
      } catch (e) {
        if (!isDuplicateKey(e) || attempt >= 2) throw e;
      }
    }
  }

  /** For each of these parent runs that the child already consumed: the occasion's tick key. */
  async occasionsOf(childJobId: number, parentRunIds: number[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (let i = 0; i < parentRunIds.length; i += CHUNK) {
      const ids = parentRunIds.slice(i, i + CHUNK);
      const rows = await this.ds.query<{ parent_run_id: number | string; child_tick_key: string }[]>(
        `SELECT parent_run_id, child_tick_key FROM run_links WHERE child_job_id = ? AND parent_run_id IN (${placeholders(ids.length)})`,
        [childJobId, ...ids],
      );
      for (const r of rows) out.set(Number(r.parent_run_id), r.child_tick_key);
    }
    return out;
  }

  /** The parent runs of each (job, tick key), keyed by tickRef; keys without links are absent. Ids ascending. */
  async parentRunIdsOf(keys: { jobId: number; tickKey: string }[]): Promise<Map<string, number[]>> {
    const out = new Map<string, number[]>();
    const wanted = keys.filter((k) => k.tickKey.startsWith('dep:'));
    for (let i = 0; i < wanted.length; i += CHUNK) {
      const part = wanted.slice(i, i + CHUNK);
      const rows = await this.ds.query<{ child_job_id: number | string; child_tick_key: string; parent_run_id: number | string }[]>(
        `SELECT child_job_id, child_tick_key, parent_run_id FROM run_links WHERE ` +
          part.map(() => '(child_job_id = ? AND child_tick_key = ?)').join(' OR ') +
          ` ORDER BY parent_run_id`,
        part.flatMap((k) => [k.jobId, k.tickKey]),
      );
      for (const r of rows) {
        const ref = tickRef(Number(r.child_job_id), r.child_tick_key);
        const list = out.get(ref) ?? [];
        list.push(Number(r.parent_run_id));
        out.set(ref, list);
      }
    }
    return out;
  }

  /** The occasions of child jobs that this run is a parent run of. */
  async childrenOf(parentRunId: number): Promise<{ jobId: number; tickKey: string }[]> {
    const rows = await this.ds.query<{ child_job_id: number | string; child_tick_key: string }[]>(
      `SELECT child_job_id, child_tick_key FROM run_links WHERE parent_run_id = ? ORDER BY child_job_id`,
      [parentRunId],
    );
    return rows.map((r) => ({ jobId: Number(r.child_job_id), tickKey: r.child_tick_key }));
  }

  /** Deletes at most `limit` links written before `before` (retention: their runs are past max_age_days too). */
  async pruneBefore(before: number, limit: number): Promise<number> {
    const rows = await this.ds.query<{ child_job_id: number | string; parent_run_id: number | string }[]>(
      `SELECT child_job_id, parent_run_id FROM run_links WHERE created_at < ? ORDER BY created_at LIMIT ?`,
      [before, Math.trunc(limit)],
    );
    if (rows.length === 0) return 0;
    await retryBusy(() =>
      this.ds.query(
        `DELETE FROM run_links WHERE ${rows.map(() => '(child_job_id = ? AND parent_run_id = ?)').join(' OR ')}`,
        rows.flatMap((r) => [Number(r.child_job_id), Number(r.parent_run_id)]),
      ),
    );
    return rows.length;
  }

  /** A deleted job's links, as child and as parent. */
  async deleteOfJob(jobId: number): Promise<void> {
    await retryBusy(() =>
      this.ds.query(`DELETE FROM run_links WHERE child_job_id = ? OR parent_job_id = ?`, [jobId, jobId]),
    );
  }
}
