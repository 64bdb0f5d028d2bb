import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Ids that never run out, and reads that do not grow with history (issue 10).
 *
 * - `runs.id`, `runs.job_id` and `jobs.id` become 64-bit on MySQL: at 1,000 runs a second a 32-bit id is spent in
 *   about 25 days (sooner with the ids INSERT IGNORE losers burn). SQLite's INTEGER PRIMARY KEY is 64-bit already.
 *   Ids stay JS numbers: exact up to 2^53.
 * - `ix_runs_status` becomes (status, id): the run list filtered by status reads the newest rows of that status in
 *   index order instead of sorting every run of it; the pending and running passes read only pending or running
 *   rows either way.
 * - (updated_at, id) for the event feed's keyset cursor; (job_id, scheduled_at) for a job's last scheduled tick;
 *   jobs (updated_at, id) and `job_tombstones` for a reconcile that reads what changed, not every job.
 *
 * On MySQL each table is altered in one statement, so `runs` is copied once (ALGORITHM=COPY: a column's type
 * changes); README "Upgrading" gives the time it takes on 10 million rows.
 */
export class WideIds1765000000000 implements MigrationInterface {
  name = 'WideIds1765000000000';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'mysql') {
      // MySQL commits each DDL statement on its own, so a dispatcher killed during the long ALTER leaves it done and
      // this migration unrecorded: every step looks at what is there first, and the migration can simply run again.
      const runs = await alterations(q, 'runs', {
        columns: { id: 'BIGINT NOT NULL AUTO_INCREMENT', job_id: 'BIGINT NOT NULL' },
        indexes: {
          ix_runs_status: ['status', 'id'],
          ix_runs_updated: ['updated_at', 'id'],
          ix_runs_job_sched: ['job_id', 'scheduled_at'],
        },
      });
      if (runs.length > 0) await q.query(`ALTER TABLE runs ${runs.join(', ')}`);
      const jobs = await alterations(q, 'jobs', {
        columns: { id: 'BIGINT NOT NULL AUTO_INCREMENT' },
        indexes: { ix_jobs_updated: ['updated_at', 'id'] },
      });
      if (jobs.length > 0) await q.query(`ALTER TABLE jobs ${jobs.join(', ')}`);
      await q.query(`CREATE TABLE IF NOT EXISTS job_tombstones (
        job_id BIGINT NOT NULL PRIMARY KEY,
        deleted_at BIGINT NOT NULL,
        KEY ix_tombstones_deleted (deleted_at, job_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      return;
    }
    // SQLite runs every migration in one transaction (migrator.ts): all of this or none of it.
    await q.query(`DROP INDEX ix_runs_status`);
    await q.query(`CREATE INDEX ix_runs_status ON runs (status, id)`);
    await q.query(`CREATE INDEX ix_runs_updated ON runs (updated_at, id)`);
    await q.query(`CREATE INDEX ix_runs_job_sched ON runs (job_id, scheduled_at)`);
    await q.query(`CREATE INDEX ix_jobs_updated ON jobs (updated_at, id)`);
    await q.query(`CREATE TABLE job_tombstones (
      job_id INTEGER NOT NULL PRIMARY KEY,
      deleted_at INTEGER NOT NULL
    )`);
    await q.query(`CREATE INDEX ix_tombstones_deleted ON job_tombstones (deleted_at, job_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE job_tombstones`);
    if (q.connection.options.type === 'mysql') {
      await q.query(`ALTER TABLE jobs DROP INDEX ix_jobs_updated, MODIFY id INT NOT NULL AUTO_INCREMENT`);
      await q.query(`ALTER TABLE runs
        DROP INDEX ix_runs_job_sched,
        DROP INDEX ix_runs_updated,
        DROP INDEX ix_runs_status,
        ADD INDEX ix_runs_status (status, not_before),
        MODIFY job_id INT NOT NULL,
        MODIFY id INT NOT NULL AUTO_INCREMENT`);
      return;
    }
    await q.query(`DROP INDEX ix_jobs_updated`);
    await q.query(`DROP INDEX ix_runs_job_sched`);
    await q.query(`DROP INDEX ix_runs_updated`);
    await q.query(`DROP INDEX ix_runs_status`);
    await q.query(`CREATE INDEX ix_runs_status ON runs (status, not_before)`);
  }
}

/**
 * The clauses of one ALTER TABLE that bring `table` to the wanted column types and indexes (MySQL), from what
 * information_schema says is there: an index with other columns is dropped and added again, one that is right is
 * left alone.
 */
async function alterations(
  q: QueryRunner,
  table: string,
  want: { columns: Record<string, string>; indexes: Record<string, string[]> },
): Promise<string[]> {
  const columns = (await q.query(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
    [table],
  )) as { name: string; type: string }[];
  const indexRows = (await q.query(
    `SELECT INDEX_NAME AS name, COLUMN_NAME AS col FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [table],
  )) as { name: string; col: string }[];
  const indexes = new Map<string, string[]>();
  for (const r of indexRows) indexes.set(r.name, [...(indexes.get(r.name) ?? []), r.col]);
  const clauses: string[] = [];
  for (const [name, definition] of Object.entries(want.columns)) {
    const type = columns.find((c) => c.name === name)?.type.toLowerCase();
    if (type !== definition.split(' ')[0].toLowerCase()) clauses.push(`MODIFY ${name} ${definition}`);
  }
  for (const [name, cols] of Object.entries(want.indexes)) {
    const present = indexes.get(name);
    if (present && present.join(',') === cols.join(',')) continue;
    if (present) clauses.push(`DROP INDEX ${name}`);
    clauses.push(`ADD INDEX ${name} (${cols.join(', ')})`);
  }
  return clauses;
}
