import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `runs.queued_at` (RunEntity.queuedAt): when a pending run's message was last confirmed by the broker ([rabbitmq]
 * groups). The pending pass publishes a broker group's runs never confirmed, or confirmed long ago and still pending,
 * so it never floods the queue. Null on every existing row: they are published as before (gRPC), or once.
 */
export class Broker1765600000000 implements MigrationInterface {
  name = 'Broker1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE runs ADD COLUMN queued_at BIGINT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE runs DROP COLUMN queued_at`);
  }
}
