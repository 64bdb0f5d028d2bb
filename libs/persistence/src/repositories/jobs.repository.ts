import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Brackets, DataSource, In, Repository } from 'typeorm';
import { isDuplicateKey, retryBusy, SAVE_OPTIONS } from '../db-errors';
import { JobEntity } from '../entities/job.entity';
import { PersistenceError } from '../persistence.error';
import type { Value } from '../sql/columns';
import { jobFromValues, JOB_SELECT_LIST } from '../sql/jobs.table';

export type NewJob = Omit<JobEntity, 'id' | 'version' | 'createdAt' | 'updatedAt'>;
export type JobChanges = Partial<Omit<JobEntity, 'id' | 'version' | 'createdAt' | 'updatedAt'>>;

export interface JobFilter {
  limit: number;
  offset: number;
  q?: string;
  group?: string;
  enabled?: boolean;
  /** Restricts to jobs whose newest run has this status. */
  lastStatus?: string;
}

const ENABLED_PAGE_SQL = `SELECT ${JOB_SELECT_LIST} FROM jobs WHERE enabled = ? AND id > ? ORDER BY id LIMIT ?`;

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

  /** @throws PersistenceError NAME_TAKEN */
  async create(job: NewJob, now = Date.now()): Promise<JobEntity> {
    const entity = this.repo.create({ ...job, version: 1, createdAt: now, updatedAt: now });
    try {
      return await retryBusy(() => this.repo.save(entity, SAVE_OPTIONS));
    } catch (e) {
      if (isDuplicateKey(e)) throw new PersistenceError('NAME_TAKEN', `a job named '${job.name}' already exists`);
      throw e;
    }
  }

  findById(id: number): Promise<JobEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /** The jobs of these ids that exist (a backlog of pending runs reads its jobs in one query, not one per run). */
  async findByIds(ids: number[]): Promise<Map<number, JobEntity>> {
    const out = new Map<number, JobEntity>();
    for (let i = 0; i < ids.length; i += 500) {
      for (const job of await this.repo.findBy({ id: In(ids.slice(i, i + 500)) })) out.set(job.id, job);
    }
    return out;
  }

  /**
   * Enabled jobs in id order, a page at a time, mapped from raw rows (no entity hydration), with the values that
   * repeat across jobs shared: a dispatcher loads and keeps every enabled job from start. On SQLite the rows are
   * read as arrays straight from the driver, several times faster than as objects. `env` and `http` are frozen.
   */
  async findEnabledPage(afterId: number, limit: number): Promise<JobEntity[]> {
    return this.mapRows(ENABLED_PAGE_SQL, [1, afterId, limit], jobFromValues);
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

  /** Changes whenever any job is created, changed or deleted; cheap enough to read every second. */
  async fingerprint(): Promise<string> {
    const row = (await this.repo
      .createQueryBuilder('j')
      .select('COUNT(*)', 'n')
      .addSelect('MAX(j.updated_at)', 'u')
      .addSelect('SUM(j.version)', 'v')
      .getRawOne()) as { n: unknown; u: unknown; v: unknown };
    return `${String(row.n)}:${String(row.u)}:${String(row.v)}`;
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

  /** id and version of every job: what a dispatcher compares with its own copy to find missed changes. */
  async versions(): Promise<Map<number, number>> {
    const rows =
      await this.ds.query<{ id: number | string; version: number | string }[]>('SELECT id, version FROM jobs');
    return new Map(rows.map((r) => [Number(r.id), Number(r.version)]));
  }

  async list(f: JobFilter): Promise<{ items: JobEntity[]; total: number }> {
    const qb = this.repo.createQueryBuilder('j');
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
    const [items, total] = await qb.orderBy('j.id', 'ASC').skip(f.offset).take(f.limit).getManyAndCount();
    return { items, total };
  }

  /** @throws PersistenceError NAME_TAKEN */
  async update(id: number, changes: JobChanges, now = Date.now()): Promise<JobEntity | null> {
    try {
      const result = await retryBusy(() =>
        this.repo
          .createQueryBuilder()
          .update(JobEntity)
          .set({ ...changes, updatedAt: now, version: () => 'version + 1' })
          .where('id = :id', { id })
          .execute(),
      );
      if (!result.affected) return null;
    } catch (e) {
      if (isDuplicateKey(e)) throw new PersistenceError('NAME_TAKEN', `a job named '${changes.name}' already exists`);
      throw e;
    }
    return this.findById(id);
  }

  async delete(id: number): Promise<boolean> {
    const result = await retryBusy(() => this.repo.delete({ id }));
    return (result.affected ?? 0) > 0;
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
  async advanceCursors(batch: { id: number; tickAt: number; nextRunAt: number | null }[]): Promise<void> {
    const greatest = this.ds.options.type === 'mysql' ? 'GREATEST' : 'MAX';
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
}
