import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Notifications (issue 14, item 2): the outbox `notifications`, one row per (run, event, channel) under a unique key,
 * so that every dispatcher planning the same ledger records an event once; `notification_gates`, one row per (job,
 * event, channel), the compare-and-set that lets one delivery through per `[notify] min_interval`; and the per-job
 * `jobs.notify` (JSON; null: the `[notify]` defaults).
 *
 * A row is delivered by one dispatcher at a time under a lease (`lease_owner`, `lease_until`); a dispatcher that dies
 * mid-delivery leaves a lease that runs out, and another delivers the row with the same `delivery_id`.
 */
export class Notifications1765400000000 implements MigrationInterface {
  name = 'Notifications1765400000000';

  async up(q: QueryRunner): Promise<void> {
    const mysql = q.connection.options.type === 'mysql';
    const id = mysql ? 'BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
    const big = mysql ? 'BIGINT' : 'INTEGER';
    const text = mysql ? 'MEDIUMTEXT' : 'TEXT';
    const tail = mysql ? ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : '';
    const exists = mysql ? 'IF NOT EXISTS ' : '';
    if (mysql) {
      // MySQL commits each DDL statement on its own: each step looks first, so a migration killed halfway can rerun.
      const [has] = (await q.query(
        `SELECT COUNT(*) AS n FROM information_schema.columns
          WHERE table_schema = DATABASE() AND table_name = 'jobs' AND column_name = 'notify'`,
      )) as { n: number | string }[];
      if (Number(has.n) === 0) await q.query(`ALTER TABLE jobs ADD COLUMN notify ${text} NULL`);
    } else {
      // SQLite runs every migration in one transaction (migrator.ts): all of this or none of it.
      await q.query(`ALTER TABLE jobs ADD COLUMN notify TEXT NULL`);
    }
    const keys = mysql
      ? `,
      UNIQUE KEY uq_notifications_event (run_id, event, channel),
      UNIQUE KEY uq_notifications_delivery (delivery_id),
      KEY ix_notifications_due (status, next_attempt_at),
      KEY ix_notifications_list (status, id),
      KEY ix_notifications_ended (status, updated_at),
      KEY ix_notifications_fold (job_id, event, channel, status),
      KEY ix_notifications_folded (folded_into)`
      : '';
    await q.query(`CREATE TABLE ${exists}notifications (
      id ${id},
      run_id ${big} NOT NULL,
      job_id ${big} NOT NULL,
      event VARCHAR(16) NOT NULL,
      channel VARCHAR(8) NOT NULL,
      status VARCHAR(8) NOT NULL,
      attempts INT NOT NULL DEFAULT 0,
      next_attempt_at ${big} NOT NULL,
      lease_owner VARCHAR(128) NULL,
      lease_until ${big} NULL,
      delivery_id CHAR(36) NOT NULL,
      folded INT NOT NULL DEFAULT 0,
      folded_into ${big} NULL,
      last_error VARCHAR(512) NULL,
      target ${text} NOT NULL,
      payload ${text} NOT NULL,
      created_at ${big} NOT NULL,
      updated_at ${big} NOT NULL,
      sent_at ${big} NULL${keys}
    )${tail}`);
    await q.query(`CREATE TABLE ${exists}notification_gates (
      job_id ${big} NOT NULL,
      event VARCHAR(16) NOT NULL,
      channel VARCHAR(8) NOT NULL,
      next_at ${big} NOT NULL,
      PRIMARY KEY (job_id, event, channel)
    )${tail}`);
    if (!mysql) {
      await q.query(`CREATE UNIQUE INDEX uq_notifications_event ON notifications (run_id, event, channel)`);
      await q.query(`CREATE UNIQUE INDEX uq_notifications_delivery ON notifications (delivery_id)`);
      await q.query(`CREATE INDEX ix_notifications_due ON notifications (status, next_attempt_at)`);
      await q.query(`CREATE INDEX ix_notifications_list ON notifications (status, id)`);
      await q.query(`CREATE INDEX ix_notifications_ended ON notifications (status, updated_at)`);
      await q.query(`CREATE INDEX ix_notifications_fold ON notifications (job_id, event, channel, status)`);
      await q.query(`CREATE INDEX ix_notifications_folded ON notifications (folded_into)`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE notification_gates`);
    await q.query(`DROP TABLE notifications`);
    await q.query(`ALTER TABLE jobs DROP COLUMN notify`);
  }
}
