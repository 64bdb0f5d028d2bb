import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Brackets, DataSource, In, Repository } from 'typeorm';
import { isDuplicateKey, retryBusy, SAVE_OPTIONS } from '../db-errors';
import { JobEntity } from '../entities/job.entity';
import { PersistenceError } from '../persistence.error';

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

const JOB_COLUMNS =
  'id, name, description, cron, timezone, type, command, env, http, timeout_ms, retries, retry_backoff_ms, ' +
  'concurrency, misfire, group_name, routing, enabled, schedule_set_at, last_tick_at, next_run_at, version, ' +
  'created_at, updated_at';

type JobRow = Record<string, string | number | null>;

const num = (v: string | number | null) => Number(v);
const numOrNull = (v: string | number | null) => (v === null ? null : Number(v));

function jobFromRow(r: JobRow): JobEntity {
  return Object.assign(new JobEntity(), {
    id: num(r.id),
    name: String(r.name),
    description: String(r.description),
    cron: String(r.cron),
    timezone: String(r.timezone),
    type: r.type as JobEntity['type'],
    command: r.command === null ? null : String(r.command),
    env: JSON.parse(String(r.env)) as Record<string, string>,
    http: r.http === null ? null : (JSON.parse(String(r.http)) as JobEntity['http']),
    timeoutMs: num(r.timeout_ms),
    retries: num(r.retries),
    retryBackoffMs: num(r.retry_backoff_ms),
    concurrency: r.concurrency as JobEntity['concurrency'],
    misfire: r.misfire as JobEntity['misfire'],
    group: String(r.group_name),
    routing: r.routing as JobEntity['routing'],
    enabled: Boolean(Number(r.enabled)),
    scheduleSetAt: num(r.schedule_set_at),
    lastTickAt: num(r.last_tick_at),
    nextRunAt: numOrNull(r.next_run_at),
    version: num(r.version),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  });
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
   * Enabled jobs in id order, a page at a time, as plain objects mapped from raw rows: a dispatcher loads every
   * enabled job at start, and TypeORM's entity hydration (and the garbage it leaves) dominated that time at
   * 100,000 jobs.
   */
  async findEnabledPage(afterId: number, limit: number): Promise<JobEntity[]> {
    const rows = await this.ds.query<JobRow[]>(
      `SELECT ${JOB_COLUMNS} FROM jobs WHERE enabled = ? AND id > ? ORDER BY id LIMIT ?`,
      [1, afterId, limit],
    );
    return rows.map(jobFromRow);
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
