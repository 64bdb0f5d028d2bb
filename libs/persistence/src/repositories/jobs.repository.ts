import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Database } from 'better-sqlite3';
import { DataSource, Repository } from 'typeorm';
import { isDuplicateOn, JOB_NAME_KEY, retryBusy, SAVE_OPTIONS } from '../db-errors';
import { DEFAULT_DEPENDENCY_WINDOW_MS } from '../domain';
import { JobEntity } from '../entities/job.entity';
import { PersistenceError } from '../persistence.error';
import { placeholders, type Value } from '../sql/columns';
import { shardCondition } from '../sql/shard-condition';
import { jobFromValues, JOB_SELECT_LIST } from '../sql/jobs.table';

/** A job to insert; without dependency fields it has no parents (mode `all`, the default window). */
export type NewJob = Omit<
  JobEntity,
  'id' | 'version' | 'createdAt' | 'updatedAt' | 'verifyFrom' | 'dependsOn' | 'dependencyMode' | 'dependencyWindowMs'
> &
  Partial<Pick<JobEntity, 'dependsOn' | 'dependencyMode' | 'dependencyWindowMs'>>;
export type JobChanges = Partial<Omit<JobEntity, 'id' | 'version' | 'createdAt' | 'updatedAt' | 'verifyFrom'>>;

/** What a conditional update did: wrote (the job as stored after it), found another version, or found no job. */
export type JobUpdate =
  { outcome: 'updated'; job: JobEntity } | { outcome: 'stale'; version: number } | { outcome: 'not_found' };

/** A position in a change feed ordered by (instant, id). */
export interface ChangeCursor {
  at: number;
  id: number;
}

const HTTP_PAGE_SQL = `SELECT ${JOB_SELECT_LIST} FROM jobs WHERE type = 'http' AND id > ? ORDER BY id LIMIT ?`;
const ENABLED_PAGE_SQL = `SELECT ${JOB_SELECT_LIST} FROM jobs WHERE enabled = ? AND id > ? ORDER BY id LIMIT ?`;
/** Ids a findForLaunch statement at most: a RunBatch's runs (2,000), far below the drivers' bound variables. */
const LAUNCH_CHUNK = 2000;
const byIdsSql = (n: number) => `SELECT ${JOB_SELECT_LIST} FROM jobs WHERE id IN (${placeholders(n)})`;
/** Rows after a (column, id) cursor, optionally up to an instant, in that order: a keyset page on its index. */
const after = (at: string, id: string, upTo: boolean) =>
  `${at} >= ? AND (${at} > ? OR ${id} > ?)${upTo ? ` AND ${at} <= ?` : ''} ORDER BY ${at}, ${id} LIMIT ?`;
const changedSql = (upTo: boolean) => `SELECT ${JOB_SELECT_LIST} FROM jobs WHERE ${after('updated_at', 'id', upTo)}`;
const deletedSql = (upTo: boolean) =>
  `SELECT job_id, deleted_at FROM job_tombstones WHERE ${after('deleted_at', 'job_id', upTo)}`;
const cursorParams = (c: ChangeCursor, upTo: number | null, limit: number) =>
  upTo === null ? [c.at, c.at, c.id, limit] : [c.at, c.at, c.id, upTo, limit];

/** The part of a better-sqlite3 connection used to read rows as arrays. */
interface SqliteConnection {
  prepare(sql: string): { raw(on: boolean): { iterate(...params: unknown[]): IterableIterator<Value[]> } };
}

/** The part of a mysql2 (callback API) connection used to read rows as arrays. */
interface MysqlConnection {
  query(
    options: { sql: string; rowsAsArray: boolean },
    values: unknown[],
    callback: (error: Error | null, rows: Value[][]) => void,
  ): unknown;
}

@Injectable()
export class JobsRepository {
  private readonly repo: Repository<JobEntity>;

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.repo = ds.getRepository(JobEntity);
  }

  /** Enabled jobs whose watchdog watermark (verify_from) is at or before `until`, oldest first. */
  findDueForVerification(until: number, limit: number): Promise<JobEntity[]> {
    return this.repo
      .createQueryBuilder('j')
      .where('j.verify_from <= :until AND j.enabled = :enabled', { until, enabled: true })
      .orderBy('j.verify_from', 'ASC')
      .addOrderBy('j.id', 'ASC')
      .limit(limit)
      .getMany();
  }

  /**
   * Moves the watchdog's watermarks, each from `from` (the value it read) to `to`: one statement, each row its own
   * compare-and-set, so a schedule set or a resume meanwhile (which set it anew) wins; answers how many moved. Not a
   * user change: `version` and `updated_at` stay. On the primary key: a page of 500 jobs a statement.
   */
  async advanceVerifyFromMany(moves: { id: number; from: number; to: number | null }[]): Promise<number> {
    if (moves.length === 0) return 0;
    const cases = (pick: (m: (typeof moves)[number]) => number | null) => ({
      sql: `CASE id ${moves.map(() => 'WHEN ? THEN ?').join(' ')} END`,
      params: moves.flatMap((m) => [m.id, pick(m)]),
    });
    const to = cases((m) => m.to);
    const from = cases((m) => m.from);
    const sql =
      `UPDATE jobs SET verify_from = ${to.sql} ` +
      `WHERE id IN (${moves.map(() => '?').join(', ')}) AND verify_from = ${from.sql}`;
    const params = [...to.params, ...moves.map((m) => m.id), ...from.params];
    // A structured result: the one way TypeORM gives the changed rows' count for both drivers.
    const runner = this.repo.manager.connection.createQueryRunner();
    try {
      const result = await retryBusy(() => runner.query(sql, params, true));
      return (result as { affected?: number }).affected ?? 0;
    } finally {
      await runner.release();
    }
  }

  /** The row a create inserts: version 1, no parents unless given. */
  newEntity(job: NewJob, now: number): JobEntity {
    // Ticks before the schedule's first fire time are nobody's to miss.
    return this.repo.create({
      dependsOn: null,
      dependencyMode: 'all',
      dependencyWindowMs: DEFAULT_DEPENDENCY_WINDOW_MS,
      ...job,
      verifyFrom: job.nextRunAt,
      version: 1,
      createdAt: now,
      updatedAt: now,
    });
  }

  /**
   * The conditional write of update(), as a statement (JobGraphRepository runs it inside its graph transaction): the
   * changes onto `expectedVersion` only, bumping it.
   */
  updateStatement(id: number, expectedVersion: number, changes: JobChanges, now: number) {
    return (
      this.repo
        .createQueryBuilder()
        .update(JobEntity)
        // A cursor set by the user (a new schedule, a resume) starts the watchdog's watermark there too: ticks of
        // the old schedule, or those that fell while paused, are not missed.
        .set({
          ...changes,
          ...(changes.lastTickAt !== undefined ? { verifyFrom: changes.nextRunAt ?? null } : {}),
          updatedAt: now,
          version: () => 'version + 1',
        })
        .where('id = :id AND version = :expectedVersion', { id, expectedVersion })
    );
  }

  /** The INSERT of create(), as a statement (for JobGraphRepository's transaction). */
  insertStatement(entity: JobEntity) {
    return this.repo.createQueryBuilder().insert().into(JobEntity).values(entity);
  }

  /** @throws PersistenceError NAME_TAKEN */
  async create(job: NewJob, now = Date.now()): Promise<JobEntity> {
    const entity = this.newEntity(job, now);
    try {
      const saved = await retryBusy(() => this.repo.save(entity, SAVE_OPTIONS));
      saved.id = Number(saved.id); // mysql2 may answer a BIGINT insert id as a string
      return saved;
    } catch (e) {
      if (isDuplicateOn(e, JOB_NAME_KEY)) {
        throw new PersistenceError('NAME_TAKEN', `a job named '${job.name}' already exists`);
      }
      throw e;
    }
  }

  findById(id: number): Promise<JobEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /**
   * The jobs of these ids that exist (a backlog of pending runs reads its jobs in one query, not one per run), mapped
   * from raw rows as findForLaunch's are.
   */
  async findByIds(ids: number[]): Promise<Map<number, JobEntity>> {
    return new Map((await this.findForLaunch(ids)).map((job) => [job.id, job]));
  }

  /**
   * The jobs of these ids that exist, in one statement for up to 2,000 ids (an executor reads the jobs of a RunBatch
   * at once), mapped from raw rows as findEnabledPage's are (shared values, `env` and `http` frozen).
   */
  async findForLaunch(ids: number[]): Promise<JobEntity[]> {
    const out: JobEntity[] = [];
    for (let i = 0; i < ids.length; i += LAUNCH_CHUNK) {
      const chunk = ids.slice(i, i + LAUNCH_CHUNK);
      out.push(...(await this.mapRows(byIdsSql(chunk.length), chunk, jobFromValues)));
    }
    return out;
  }

  /**
   * Enabled jobs in id order, a page at a time, mapped from raw rows (no entity hydration), with the values that
   * repeat across jobs shared: a dispatcher loads and keeps every enabled job from start. On SQLite the rows are
   * read as arrays straight from the driver, several times faster than as objects. `env` and `http` are frozen.
   */
  async findEnabledPage(afterId: number, limit: number, shards: readonly number[] | null = null): Promise<JobEntity[]> {
    if (!shards) return this.mapRows(ENABLED_PAGE_SQL, [1, afterId, limit], jobFromValues);
    const sql = `SELECT ${JOB_SELECT_LIST} FROM jobs WHERE enabled = ? AND id > ? AND ${shardCondition(
      this.ds.options.type,
      'id',
      shards,
    )} ORDER BY id LIMIT ?`;
    return this.mapRows(sql, [1, afterId, limit], jobFromValues);
  }

  /**
   * A SELECT's rows, each mapped from its array of column values, straight from the driver's own connection (the
   * query runner's): no row objects, and on SQLite each row is mapped as it is stepped, so it dies young.
   * (MySQL answers BIGINT columns as strings, per the pool's options: mappers convert.)
   */
  private async mapRows<T>(sql: string, params: unknown[], map: (row: Value[]) => T): Promise<T[]> {
    const runner = this.ds.createQueryRunner();
    try {
      if (this.ds.options.type === 'mysql') {
        const connection = (await runner.connect()) as MysqlConnection;
        const rows = await new Promise<Value[][]>((resolve, reject) => {
          connection.query({ sql, rowsAsArray: true }, params, (error, rows) =>
            error ? reject(error) : resolve(rows),
          );
        });
        return rows.map(map);
      }
      const connection = (await runner.connect()) as SqliteConnection;
      return await retryBusy(() => {
        const out: T[] = [];
        for (const row of connection
          .prepare(sql)
          .raw(true)
          .iterate(...params))
          out.push(map(row));
        return Promise.resolve(out);
      });
    } finally {
      await runner.release();
    }
  }

  /** HTTP jobs, enabled or not, in id order, a page at a time (a start-up upgrade of their stored form). */
  findHttpPage(afterId: number, limit: number): Promise<JobEntity[]> {
    return this.mapRows(HTTP_PAGE_SQL, [afterId, limit], jobFromValues);
  }

  /** Enabled jobs whose stored next fire time is before `dueBefore`: ticks nobody has claimed. */
  findOverdue(dueBefore: number, limit: number): Promise<JobEntity[]> {
    return this.repo
      .createQueryBuilder('j')
      .where('j.enabled = :enabled', { enabled: true })
      .andWhere('j.next_run_at < :dueBefore', { dueBefore })
      .orderBy('j.next_run_at', 'ASC')
      .limit(limit)
      .getMany();
  }

  /**
   * Writes the changes only onto the version the caller read (`WHERE id = ? AND version = ?`), bumping it: a
   * read-merge-write whose read went stale writes nothing and hears the version now stored, so two overlapping
   * merges can neither lose a change nor store a job that is invalid as a whole.
   * @throws PersistenceError NAME_TAKEN
   */
  async update(id: number, expectedVersion: number, changes: JobChanges, now = Date.now()): Promise<JobUpdate> {
    try {
      const result = await retryBusy(() => this.updateStatement(id, expectedVersion, changes, now).execute());
      // Every matched row changes (version + 1), so MySQL's affected rows (changed, not matched) count it too.
      if (!result.affected) {
        const current = await this.findById(id);
        return current ? { outcome: 'stale', version: current.version } : { outcome: 'not_found' };
      }
    } catch (e) {
      if (isDuplicateOn(e, JOB_NAME_KEY)) {
        throw new PersistenceError('NAME_TAKEN', `a job named '${changes.name}' already exists`);
      }
      throw e;
    }
    const job = await this.findById(id);
    return job ? { outcome: 'updated', job } : { outcome: 'not_found' };
  }

  /**
   * Deletes the job and leaves a tombstone in the same transaction, so that every dispatcher's reconcile learns of
   * the deletion by reading what changed (findDeletedAfter), not by comparing every job it holds.
   */
  async delete(id: number, now = Date.now()): Promise<boolean> {
    if (this.ds.options.type !== 'mysql') {
      // One synchronous transaction on the driver's connection: no other statement can join it (see SAVE_OPTIONS).
      const db = (this.ds.driver as unknown as { databaseConnection: Database }).databaseConnection;
      const remove = db.prepare('DELETE FROM jobs WHERE id = ?');
      const mark = db.prepare('INSERT OR REPLACE INTO job_tombstones (job_id, deleted_at) VALUES (?, ?)');
      const write = db.transaction(() => {
        if (remove.run(id).changes === 0) return false;
        mark.run(id, now);
        return true;
      });
      return retryBusy(() => Promise.resolve(write()));
    }
    return retryBusy(() =>
      this.ds.transaction(async (m) => {
        const result = await m.query<{ affectedRows?: number }>('DELETE FROM jobs WHERE id = ?', [id]);
        if (!result.affectedRows) return false;
        await m.query(
          'INSERT INTO job_tombstones (job_id, deleted_at) VALUES (?, ?) ON DUPLICATE KEY UPDATE deleted_at = ?',
          [id, now, now],
        );
        return true;
      }),
    );
  }

  /**
   * Jobs created or changed (by a user: the cursor columns do not touch updated_at) after the cursor, in
   * (updated_at, id) order, at most `limit`, with `upTo` only those changed by then: a reconcile reads what
   * changed, on the (updated_at, id) index.
   */
  findChangedAfter(cursor: ChangeCursor, upTo: number | null, limit: number): Promise<JobEntity[]> {
    return this.mapRows(changedSql(upTo !== null), cursorParams(cursor, upTo, limit), jobFromValues);
  }

  /** Jobs deleted after the cursor, in (deleted_at, job_id) order, at most `limit`. */
  findDeletedAfter(
    cursor: ChangeCursor,
    upTo: number | null,
    limit: number,
  ): Promise<{ id: number; deletedAt: number }[]> {
    return this.mapRows(deletedSql(upTo !== null), cursorParams(cursor, upTo, limit), (v) => ({
      id: Number(v[0]),
      deletedAt: Number(v[1]),
    }));
  }

  /** Tombstones older than `before` (ms), at most `limit` a call: a deletion only needs to outlive reconciles. */
  async pruneTombstones(before: number, limit = 1000): Promise<number> {
    const rows = await this.ds.query<{ job_id: number | string }[]>(
      `SELECT job_id FROM job_tombstones WHERE deleted_at < ? ORDER BY deleted_at LIMIT ${Math.trunc(limit)}`,
      [before],
    );
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => Number(r.job_id));
    await retryBusy(() =>
      this.ds.query(`DELETE FROM job_tombstones WHERE job_id IN (${ids.map(() => '?').join(', ')})`, ids),
    );
    return ids.length;
  }

  /**
   * Moves the ledger cursor forward only (compare-and-set), so two dispatchers catching up the same job can not
   * move it back. Also stores the next fire time shown by the API. Does not bump `version`: not a user change.
   */
  async advanceCursor(id: number, tickAt: number, nextRunAt: number | null): Promise<void> {
    await retryBusy(() =>
      this.repo
        .createQueryBuilder()
        .update(JobEntity)
        .set({ lastTickAt: tickAt, nextRunAt })
        .where('id = :id AND last_tick_at < :tickAt', { id, tickAt })
        .execute(),
    );
  }

  /**
   * advanceCursor for many jobs in few statements (500 a statement), each row still moved forward only. Single
   * statements, not a transaction: on SQLite every repository shares one connection, and concurrent writes would
   * join (and could be rolled back with) an explicit transaction.
   */
  async advanceCursors(moves: { id: number; tickAt: number; nextRunAt: number | null }[]): Promise<void> {
    // One entry a job, the furthest (a CASE would apply the first, UPDATE … FROM either).
    const furthest = new Map<number, { id: number; tickAt: number; nextRunAt: number | null }>();
    for (const m of moves) if ((furthest.get(m.id)?.tickAt ?? -Infinity) < m.tickAt) furthest.set(m.id, m);
    const batch = [...furthest.values()];
    if (this.ds.options.type !== 'mysql') return this.advanceCursorsSqlite(batch);
    const greatest = 'GREATEST';
    for (let i = 0; i < batch.length; i += 500) {
      const chunk = batch.slice(i, i + 500);
      const nextParams = chunk.flatMap((c) => [c.id, c.tickAt, c.nextRunAt]);
      const tickParams = chunk.flatMap((c) => [c.id, c.tickAt]);
      const when = (s: string) => chunk.map(() => s).join(' ');
      // MySQL applies SET assignments left to right: next_run_at first, so its CASE still sees the old cursor.
      const sql =
        `UPDATE jobs SET next_run_at = CASE id ${when('WHEN ? THEN (CASE WHEN last_tick_at < ? THEN ? ELSE next_run_at END)')} ` +
        `ELSE next_run_at END, last_tick_at = ${greatest}(last_tick_at, CASE id ${when('WHEN ? THEN ?')} ELSE last_tick_at END) ` +
        `WHERE id IN (${chunk.map(() => '?').join(', ')})`;
      await retryBusy(() => this.ds.query(sql, [...nextParams, ...tickParams, ...chunk.map((c) => c.id)]));
    }
  }

  /**
   * advanceCursors on SQLite: one UPDATE … FROM a VALUES list per 500 jobs, each job found by its key (a CASE over
   * 500 ids is evaluated branch by branch for every row, 500 × 500 comparisons a statement, and held SQLite's one
   * writer for ~6 ms of a burst's flush). The same forward-only rule: the hint moves with the cursor, never back.
   */
  private async advanceCursorsSqlite(batch: { id: number; tickAt: number; nextRunAt: number | null }[]): Promise<void> {
    for (let i = 0; i < batch.length; i += 500) {
      const chunk = batch.slice(i, i + 500);
      const sql =
        `UPDATE jobs SET next_run_at = CASE WHEN jobs.last_tick_at < v.column2 THEN v.column3 ELSE jobs.next_run_at END, ` +
        `last_tick_at = MAX(jobs.last_tick_at, v.column2) ` +
        `FROM (VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}) AS v WHERE jobs.id = v.column1`;
      await retryBusy(() =>
        this.ds.query(
          sql,
          chunk.flatMap((c) => [c.id, c.tickAt, c.nextRunAt]),
        ),
      );
    }
  }
}
