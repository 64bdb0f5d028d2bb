import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tick claimer asks, once per timer firing, which of a thousand jobs have a pending or running run
 * (concurrency: forbid). (job_id, status) answers that with two seeks a job, however long each job's history is.
 */
export class ActiveRunsIndex1764900000000 implements MigrationInterface {
  name = 'ActiveRunsIndex1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX ix_runs_job_status ON runs (job_id, status)`);
  }

  async down(q: QueryRunner): Promise<void> {
    const onTable = q.connection.options.type === 'mysql' ? ' ON runs' : '';
    await q.query(`DROP INDEX ix_runs_job_status${onTable}`);
  }
}
