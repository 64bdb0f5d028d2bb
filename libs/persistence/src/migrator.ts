import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { retryWithBackoff } from '@app/common';
import { retryBusy } from './db-errors';
import { SCHEMA_VERSION } from './migrations';

const logger = new Logger('Migrator');
const MYSQL_LOCK = 'gocron_migrations';

/**
 * Runs pending migrations under a cross-process lock, so processes started together do not race:
 * GET_LOCK on MySQL; on SQLite one IMMEDIATE transaction around all of them (the driver has a single connection,
 * so every statement the migration executor issues runs inside it).
 */
export async function migrate(ds: DataSource): Promise<string[]> {
  const ran = ds.options.type === 'mysql' ? await migrateMysql(ds) : await migrateSqlite(ds);
  const names = ran.map((m) => m.name);
  if (names.length > 0) logger.log(`applied migrations: ${names.join(', ')}`);
  return names;
}

async function migrateMysql(ds: DataSource) {
  const qr = ds.createQueryRunner();
  await qr.connect();
  try {
    const [row] = (await qr.query(`SELECT GET_LOCK(?, 60) AS got`, [MYSQL_LOCK])) as { got: number | string }[];
    if (Number(row?.got) !== 1) throw new Error('could not take the migration lock within 60 s');
    try {
      return await ds.runMigrations({ transaction: 'each' });
    } finally {
      await qr.query(`SELECT RELEASE_LOCK(?)`, [MYSQL_LOCK]);
    }
  } finally {
    await qr.release();
  }
}

async function migrateSqlite(ds: DataSource) {
  await retryBusy(() => ds.query('BEGIN IMMEDIATE'), 60_000);
  try {
    const ran = await ds.runMigrations({ transaction: 'none' });
    await ds.query('COMMIT');
    return ran;
  } catch (e) {
    await ds.query('ROLLBACK');
    throw e;
  }
}

/**
 * The executor never migrates: it waits, with back-off, until a dispatcher has brought the schema to the version
 * this build needs (the newest migration it knows is recorded), not merely until a `runs` table exists: an older
 * schema lacks what this build writes.
 */
export async function waitForSchema(ds: DataSource, timeoutMs = 120_000, version = SCHEMA_VERSION): Promise<void> {
  try {
    await retryWithBackoff(
      async () => {
        const rows = await ds.query<unknown[]>('SELECT name FROM migrations WHERE name = ?', [version]);
        if (rows.length === 0) throw new Error(`schema version ${version} is not applied yet`);
      },
      {
        initialMs: 200,
        maxMs: 5000,
        budgetMs: timeoutMs,
        onRetry: (_e, attempt) => {
          if (attempt === 1) logger.warn(`waiting for a dispatcher to migrate the database schema to ${version}`);
        },
      },
    );
  } catch (e) {
    // Every error is retried: the only way out with one is the spent budget.
    throw new Error(`database schema not found after ${timeoutMs} ms: ${String(e)}`);
  }
}
