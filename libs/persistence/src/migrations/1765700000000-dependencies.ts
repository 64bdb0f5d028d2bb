import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Jobs that depend on jobs (issue 15).
 *
 * - `jobs.depends_on` (JSON `[{jobId, on}]`, null: none), `jobs.dependency_mode` (`any`|`all`),
 *   `jobs.dependency_window_ms`: the job's own view of its parents, read with the job.
 * - `job_dependencies` (child_id, parent_id, on_cond): the same edges, one row each, written in the job's own
 *   transaction, for the reverse reads (a parent's children, the graph, the cycle check) that a JSON column can not
 *   index.
 * - `run_links` (child_job_id, parent_run_id) → child_tick_key: which parent runs a child's run consumed. Its primary
 *   key is the fence that lets a parent run count toward one occasion of a child only: the links of an occasion are
 *   written in one transaction before the child's run is claimed under `child_tick_key`, so two dispatchers choosing
 *   overlapping occasions can not both win, and a dispatcher that died between the two steps leaves links whose run
 *   the next pass claims. A run's `parentRunIds` are its (job, tick key)'s links, so its retries share them.
 * - `pass_cursors`: where a background pass that reads the ledger's (updated_at, id) order got to, shared by the
 *   dispatchers and moved forward only (the dependency pass: a restart of every dispatcher resumes there).
 * - `graph_locks`: one row that graph edits lock (SELECT … FOR UPDATE on MySQL; SQLite has one writer), so two
 *   concurrent PATCHes can not each add half of a cycle.
 */
export class Dependencies1765700000000 implements MigrationInterface {
  name = 'Dependencies1765700000000';

  async up(q: QueryRunner): Promise<void> {
    const mysql = q.connection.options.type === 'mysql';
    const big = mysql ? 'BIGINT' : 'INTEGER';
    const text = mysql ? 'MEDIUMTEXT' : 'TEXT';
    const tail = mysql ? ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : '';
    const exists = mysql ? 'IF NOT EXISTS ' : '';
    const columns: [string, string, string][] = [
      ['jobs', 'depends_on', `${text} NULL`],
      ['jobs', 'dependency_mode', `VARCHAR(8) NOT NULL DEFAULT 'all'`],
      ['jobs', 'dependency_window_ms', `INT NOT NULL DEFAULT 3600000`],
    ];
    for (const [table, column, type] of columns) {
      if (mysql) {
        // MySQL commits each DDL statement on its own: each step looks first, so a migration killed halfway can rerun.
        const [has] = (await q.query(
          `SELECT COUNT(*) AS n FROM information_schema.columns
            WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?`,
          [table, column],
        )) as { n: number | string }[];
        if (Number(has.n) > 0) continue;
      }
      // SQLite runs every migration in one transaction (migrator.ts): all of this or none of it.
      await q.query(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    }
    await q.query(`CREATE TABLE ${exists}job_dependencies (
      child_id ${big} NOT NULL,
      parent_id ${big} NOT NULL,
      on_cond VARCHAR(8) NOT NULL,
      PRIMARY KEY (child_id, parent_id)${mysql ? ',\n      KEY ix_job_dependencies_parent (parent_id, child_id)' : ''}
    )${tail}`);
    await q.query(`CREATE TABLE ${exists}run_links (
      child_job_id ${big} NOT NULL,
      parent_run_id ${big} NOT NULL,
      parent_job_id ${big} NOT NULL,
      child_tick_key VARCHAR(64) NOT NULL,
      created_at ${big} NOT NULL,
      PRIMARY KEY (child_job_id, parent_run_id)${
        mysql
          ? `,
      KEY ix_run_links_parent (parent_run_id),
      KEY ix_run_links_child (child_job_id, child_tick_key),
      KEY ix_run_links_created (created_at)`
          : ''
      }
    )${tail}`);
    await q.query(`CREATE TABLE ${exists}pass_cursors (
      name VARCHAR(32) NOT NULL PRIMARY KEY,
      pos_at ${big} NOT NULL,
      pos_id ${big} NOT NULL
    )${tail}`);
    await q.query(`CREATE TABLE ${exists}graph_locks (
      name VARCHAR(32) NOT NULL PRIMARY KEY,
      version ${big} NOT NULL
    )${tail}`);
    await q.query(`${mysql ? 'INSERT IGNORE' : 'INSERT OR IGNORE'} INTO graph_locks (name, version) VALUES ('jobs', 0)`);
    if (!mysql) {
      await q.query(`CREATE INDEX ix_job_dependencies_parent ON job_dependencies (parent_id, child_id)`);
      await q.query(`CREATE INDEX ix_run_links_parent ON run_links (parent_run_id)`);
      await q.query(`CREATE INDEX ix_run_links_child ON run_links (child_job_id, child_tick_key)`);
      await q.query(`CREATE INDEX ix_run_links_created ON run_links (created_at)`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE graph_locks`);
    await q.query(`DROP TABLE pass_cursors`);
    await q.query(`DROP TABLE run_links`);
    await q.query(`DROP TABLE job_dependencies`);
    await q.query(`ALTER TABLE jobs DROP COLUMN dependency_window_ms`);
    await q.query(`ALTER TABLE jobs DROP COLUMN dependency_mode`);
    await q.query(`ALTER TABLE jobs DROP COLUMN depends_on`);
  }
}
