import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users, API tokens, dashboard sessions and the audit log (issue 12). New tables only: nothing existing is touched,
 * so the migration is quick on any history. Secrets are stored as SHA-256 (tokens, session cookies) or scrypt
 * (passwords), never as they were sent.
 */
/**
 * The audit list's filters read newest first by (filter, id); the brute-force limit counts one action's recent rows
 * per username or per address, so those reads stay small however long an admin's history grows.
 */
const AUDIT_INDEXES: Array<[string, string]> = [
  ['ix_audit_job', 'job_id, id'],
  ['ix_audit_actor', 'actor, id'],
  ['ix_audit_action', 'action, id'],
  ['ix_audit_fail_actor', 'action, actor, at'],
  ['ix_audit_fail_address', 'action, address, at'],
];

export class Auth1765100000000 implements MigrationInterface {
  name = 'Auth1765100000000';

  async up(q: QueryRunner): Promise<void> {
    const mysql = q.connection.options.type === 'mysql';
    const id = mysql ? 'BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
    const big = mysql ? 'BIGINT' : 'INTEGER';
    const text = mysql ? 'MEDIUMTEXT' : 'TEXT';
    const tail = mysql ? ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : '';
    const exists = mysql ? 'IF NOT EXISTS ' : '';
    // MySQL commits each DDL statement on its own: IF NOT EXISTS lets a migration killed halfway run again.
    await q.query(`CREATE TABLE ${exists}users (
      id ${id},
      username VARCHAR(64) NOT NULL,
      password_hash VARCHAR(255) NULL,
      role VARCHAR(16) NOT NULL,
      disabled ${mysql ? 'TINYINT(1)' : 'BOOLEAN'} NOT NULL DEFAULT 0,
      created_at ${big} NOT NULL,
      updated_at ${big} NOT NULL${mysql ? ',\n      UNIQUE KEY uq_users_username (username)' : ''}
    )${tail}`);
    await q.query(`CREATE TABLE ${exists}api_tokens (
      id ${id},
      user_id ${big} NOT NULL,
      name VARCHAR(64) NOT NULL,
      token_hash CHAR(64) NOT NULL,
      prefix VARCHAR(16) NOT NULL,
      role VARCHAR(16) NOT NULL,
      expires_at ${big} NULL,
      last_used_at ${big} NULL,
      parent_token_id ${big} NULL,
      kind VARCHAR(16) NOT NULL DEFAULT 'user',
      created_at ${big} NOT NULL${mysql ? ',\n      UNIQUE KEY uq_tokens_hash (token_hash),\n      KEY ix_tokens_user (user_id, id),\n      KEY ix_tokens_parent (parent_token_id)' : ''}
    )${tail}`);
    await q.query(`CREATE TABLE ${exists}sessions (
      id ${id},
      token_hash CHAR(64) NOT NULL,
      csrf_hash CHAR(64) NOT NULL,
      user_id ${big} NOT NULL,
      via_token_id ${big} NULL,
      expires_at ${big} NOT NULL,
      created_at ${big} NOT NULL${mysql ? ',\n      UNIQUE KEY uq_sessions_hash (token_hash),\n      KEY ix_sessions_user (user_id),\n      KEY ix_sessions_expires (expires_at)' : ''}
    )${tail}`);
    await q.query(`CREATE TABLE ${exists}audit_log (
      id ${id},
      at ${big} NOT NULL,
      actor VARCHAR(64) NULL,
      action VARCHAR(32) NOT NULL,
      target_type VARCHAR(16) NULL,
      target_id ${big} NULL,
      job_id ${big} NULL,
      address VARCHAR(64) NOT NULL DEFAULT '',
      before_json ${text} NULL,
      after_json ${text} NULL,
      detail VARCHAR(1024) NULL${mysql ? `,\n      ${AUDIT_INDEXES.map(([n, c]) => `KEY ${n} (${c})`).join(',\n      ')}` : ''}
    )${tail}`);
    if (mysql) return;
    // SQLite runs every migration in one transaction (migrator.ts): all of this or none of it.
    await q.query(`CREATE UNIQUE INDEX uq_users_username ON users (username)`);
    await q.query(`CREATE UNIQUE INDEX uq_tokens_hash ON api_tokens (token_hash)`);
    await q.query(`CREATE INDEX ix_tokens_user ON api_tokens (user_id, id)`);
    await q.query(`CREATE INDEX ix_tokens_parent ON api_tokens (parent_token_id)`);
    await q.query(`CREATE UNIQUE INDEX uq_sessions_hash ON sessions (token_hash)`);
    await q.query(`CREATE INDEX ix_sessions_user ON sessions (user_id)`);
    await q.query(`CREATE INDEX ix_sessions_expires ON sessions (expires_at)`);
    for (const [name, columns] of AUDIT_INDEXES) await q.query(`CREATE INDEX ${name} ON audit_log (${columns})`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['audit_log', 'sessions', 'api_tokens', 'users']) await q.query(`DROP TABLE ${t}`);
  }
}
