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
      await q.query(`ALTER TABLE runs
        MODIFY id BIGINT NOT NULL AUTO_INCREMENT,
        MODIFY job_id BIGINT NOT NULL,
        DROP INDEX ix_runs_status,
        ADD INDEX ix_runs_status (status, id),
        ADD INDEX ix_runs_updated (updated_at, id),
        ADD INDEX ix_runs_job_sched (job_id, scheduled_at)`);
      await q.query(`ALTER TABLE jobs
        MODIFY id BIGINT NOT NULL AUTO_INCREMENT,
        ADD INDEX ix_jobs_updated (updated_at, id)`);
      await q.query(`CREATE TABLE job_tombstones (
        job_id BIGINT NOT NULL PRIMARY KEY,
        deleted_at BIGINT NOT NULL,
        KEY ix_tombstones_deleted (deleted_at, job_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      return;
    }
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
