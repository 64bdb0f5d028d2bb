import { MigrationInterface, QueryRunner } from 'typeorm';

/** Jobs and the run ledger. Hand-written per dialect so the schema is exactly what we review, not what sync guesses. */
export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'mysql') {
      await q.query(`CREATE TABLE jobs (
        id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(128) NOT NULL,
        description VARCHAR(1024) NOT NULL DEFAULT '',
        cron VARCHAR(255) NOT NULL,
        timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
        type VARCHAR(8) NOT NULL,
        command MEDIUMTEXT NULL,
        env MEDIUMTEXT NOT NULL,
        http MEDIUMTEXT NULL,
        timeout_ms INT NOT NULL,
        retries INT NOT NULL,
        retry_backoff_ms INT NOT NULL,
        concurrency VARCHAR(8) NOT NULL,
        misfire VARCHAR(8) NOT NULL,
        group_name VARCHAR(64) NOT NULL,
        routing VARCHAR(16) NOT NULL,
        enabled TINYINT(1) NOT NULL,
        schedule_set_at BIGINT NOT NULL,
        last_tick_at BIGINT NOT NULL,
        next_run_at BIGINT NULL,
        version INT NOT NULL DEFAULT 1,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE KEY uq_jobs_name (name)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      await q.query(`CREATE TABLE runs (
        id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        job_id INT NOT NULL,
        tick_key VARCHAR(64) NOT NULL,
        attempt INT NOT NULL,
        executor_key VARCHAR(128) NOT NULL DEFAULT '',
        scheduled_at BIGINT NOT NULL,
        \`trigger\` VARCHAR(16) NOT NULL,
        status VARCHAR(16) NOT NULL,
        not_before BIGINT NOT NULL,
        deadline_at BIGINT NOT NULL,
        executor_id VARCHAR(128) NULL,
        executor_address VARCHAR(255) NULL,
        dispatcher_id VARCHAR(128) NULL,
        started_at BIGINT NULL,
        finished_at BIGINT NULL,
        duration_ms INT NULL,
        exit_code INT NULL,
        http_status INT NULL,
        output MEDIUMTEXT NULL,
        output_truncated TINYINT(1) NOT NULL DEFAULT 0,
        error TEXT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE KEY uq_runs_tick (job_id, tick_key, attempt, executor_key),
        KEY ix_runs_job (job_id, id),
        KEY ix_runs_status (status, not_before)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      return;
    }
    await q.query(`CREATE TABLE jobs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      name VARCHAR(128) NOT NULL,
      description VARCHAR(1024) NOT NULL DEFAULT '',
      cron VARCHAR(255) NOT NULL,
      timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
      type VARCHAR(8) NOT NULL,
      command TEXT NULL,
      env TEXT NOT NULL,
      http TEXT NULL,
      timeout_ms INTEGER NOT NULL,
      retries INTEGER NOT NULL,
      retry_backoff_ms INTEGER NOT NULL,
      concurrency VARCHAR(8) NOT NULL,
      misfire VARCHAR(8) NOT NULL,
      group_name VARCHAR(64) NOT NULL,
      routing VARCHAR(16) NOT NULL,
      enabled BOOLEAN NOT NULL,
      schedule_set_at INTEGER NOT NULL,
      last_tick_at INTEGER NOT NULL,
      next_run_at INTEGER NULL,
      version INTEGER NOT NULL DEFAULT 1,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
    await q.query(`CREATE UNIQUE INDEX uq_jobs_name ON jobs (name)`);
    await q.query(`CREATE TABLE runs (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      job_id INTEGER NOT NULL,
      tick_key VARCHAR(64) NOT NULL,
      attempt INTEGER NOT NULL,
      executor_key VARCHAR(128) NOT NULL DEFAULT '',
      scheduled_at INTEGER NOT NULL,
      "trigger" VARCHAR(16) NOT NULL,
      status VARCHAR(16) NOT NULL,
      not_before INTEGER NOT NULL,
      deadline_at INTEGER NOT NULL,
      executor_id VARCHAR(128) NULL,
      executor_address VARCHAR(255) NULL,
      dispatcher_id VARCHAR(128) NULL,
      started_at INTEGER NULL,
      finished_at INTEGER NULL,
      duration_ms INTEGER NULL,
      exit_code INTEGER NULL,
      http_status INTEGER NULL,
      output TEXT NULL,
      output_truncated BOOLEAN NOT NULL DEFAULT 0,
      error TEXT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
    await q.query(`CREATE UNIQUE INDEX uq_runs_tick ON runs (job_id, tick_key, attempt, executor_key)`);
    await q.query(`CREATE INDEX ix_runs_job ON runs (job_id, id)`);
    await q.query(`CREATE INDEX ix_runs_status ON runs (status, not_before)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE runs`);
    await q.query(`DROP TABLE jobs`);
  }
}
