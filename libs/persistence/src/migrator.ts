import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { LogThrottle, retryWithBackoff } from '@app/common';
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
    // Another process may be running a long migration (an ALTER of a big table takes minutes): wait for it.
    for (let waited = 0; ; waited++) {
      const [row] = (await qr.query(`SELECT GET_LOCK(?, 60) AS got`, [MYSQL_LOCK])) as { got: number | string }[];
      if (Number(row?.got) === 1) break;
      logger.warn(`another process holds the migration lock (${waited + 1} min): waiting for it to finish`);
    }
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

/** While the executor waits for the schema, one line at once and then at most one a minute (with a count). */
const SCHEMA_WAIT_LOG_MS = 60_000;

/**
 * The executor never migrates: it waits, with back-off, until a dispatcher has brought the schema to the version
 * this build needs (the newest migration it knows is recorded), not merely until a `runs` table exists: an older
 * schema lacks what this build writes. Start order is free, so by default it waits as long as it takes (a dispatcher
 * may come hours later); `timeoutMs` bounds it for callers that want a bound. `signal` ends the wait (shutdown).
 */
export async function waitForSchema(
  ds: DataSource,
  timeoutMs = Infinity,
  version = SCHEMA_VERSION,
  signal?: AbortSignal,
): Promise<void> {
  const started = Date.now();
  const waiting = new LogThrottle((m) => logger.warn(m), SCHEMA_WAIT_LOG_MS);
  try {
    await retryWithBackoff(
      async () => {
        if (signal?.aborted) throw new Error('stopped');
        const rows = await ds.query<unknown[]>('SELECT name FROM migrations WHERE name = ?', [version]);
        if (rows.length === 0) throw new Error(`schema version ${version} is not applied yet`);
      },
      {
        initialMs: 200,
        maxMs: 5000,
        budgetMs: Number.isFinite(timeoutMs) ? timeoutMs : undefined,
        retryable: () => !signal?.aborted,
        onRetry: (e) =>
          waiting.warn(
            'schema',
            `waiting for a dispatcher to migrate the database schema to ${version} ` +
              `(${(e as Error).message}; ${Math.round((Date.now() - started) / 1000)} s so far)`,
          ),
      },
    );
  } catch (e) {
    if (signal?.aborted) throw new Error(`stopped waiting for the database schema ${version}`);
    // Every error is retried: the only other way out with one is the spent budget.
    throw new Error(`database schema not found after ${timeoutMs} ms: ${String(e)}`);
  }
  if (Date.now() - started > 1000) logger.log(`database schema ${version} is there`);
}
