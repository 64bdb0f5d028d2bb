import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Secrets at rest (issue 13): `jobs.secrets` holds a job's `secretEnv` and `http.secretHeaders`, each value sealed
 * with the installation's key (AES-256-GCM, never plaintext); `gocron_settings` holds facts about the installation,
 * first of all the fingerprint of that key, so a process started with another key refuses to start.
 *
 * Moving the credential headers of existing jobs into `secretHeaders` needs the key, which a migration does not
 * have: the dispatcher does it right after migrating (SecretHeadersUpgrade), once per database.
 */
export class Secrets1765200000000 implements MigrationInterface {
  name = 'Secrets1765200000000';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'mysql') {
      // MySQL commits each DDL statement on its own: each step looks first, so a migration killed halfway can rerun.
      const [has] = (await q.query(
        `SELECT COUNT(*) AS n FROM information_schema.columns
          WHERE table_schema = DATABASE() AND table_name = 'jobs' AND column_name = 'secrets'`,
      )) as { n: number | string }[];
      if (Number(has.n) === 0) await q.query(`ALTER TABLE jobs ADD COLUMN secrets MEDIUMTEXT NULL`);
      await q.query(`CREATE TABLE IF NOT EXISTS gocron_settings (
        name VARCHAR(64) NOT NULL PRIMARY KEY,
        value VARCHAR(255) NOT NULL,
        created_at BIGINT NOT NULL
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      return;
    }
    // SQLite runs every migration in one transaction (migrator.ts): all of this or none of it.
    await q.query(`ALTER TABLE jobs ADD COLUMN secrets TEXT NULL`);
    await q.query(`CREATE TABLE gocron_settings (
      name VARCHAR(64) NOT NULL PRIMARY KEY,
      value VARCHAR(255) NOT NULL,
      created_at INTEGER NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE gocron_settings`);
    await q.query(`ALTER TABLE jobs DROP COLUMN secrets`);
  }
}
