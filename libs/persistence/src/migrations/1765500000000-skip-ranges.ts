import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `skipped` records that cover several ticks (RunEntity.skippedCount, skippedFrom): a job's consecutive `forbid`
 * skips behind one long run fold into one record instead of a row per tick. Existing rows are not rewritten (a table
 * of millions of skips would be locked for it): their count reads as 0, which the API shows as one tick.
 */
export class SkipRanges1765500000000 implements MigrationInterface {
  name = 'SkipRanges1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE runs ADD COLUMN skipped_count INT NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE runs ADD COLUMN skipped_from BIGINT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE runs DROP COLUMN skipped_from`);
    await q.query(`ALTER TABLE runs DROP COLUMN skipped_count`);
  }
}
