import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The missed-tick watchdog's per-job watermark (jobs.verify_from: the first tick not yet verified) and the index it
 * reads due jobs by. Existing jobs start it at their next fire time: ticks before it are taken as verified (the
 * history is not searched for holes on upgrade).
 */
export class VerifyFrom1765300000000 implements MigrationInterface {
  name = 'VerifyFrom1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN verify_from BIGINT NULL`);
    await q.query(`UPDATE jobs SET verify_from = next_run_at`);
    await q.query(`CREATE INDEX ix_jobs_verify ON jobs (verify_from)`);
  }

  async down(q: QueryRunner): Promise<void> {
    const onTable = q.connection.options.type === 'mysql' ? ' ON jobs' : '';
    await q.query(`DROP INDEX ix_jobs_verify${onTable}`);
    await q.query(`ALTER TABLE jobs DROP COLUMN verify_from`);
  }
}
