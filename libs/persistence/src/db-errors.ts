import { Backoff, retryWithBackoff } from '@app/common';

/** Driver error codes we act on. MariaDB: ER_DUP_ENTRY (1062); SQLite: SQLITE_CONSTRAINT_UNIQUE. */
interface DriverError {
  code?: string;
  errno?: number;
  message?: string;
  sqlMessage?: string;
  driverError?: DriverError;
}

function driverError(e: unknown): DriverError {
  const err = (e ?? {}) as DriverError;
  return err.driverError ?? err;
}

export function isDuplicateKey(e: unknown): boolean {
  const d = driverError(e);
  return (
    d.code === 'ER_DUP_ENTRY' ||
    d.errno === 1062 ||
    d.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    d.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/** A unique index by what each dialect's duplicate-key message names: MySQL its name, SQLite its columns. */
export interface UniqueKey {
  /** MariaDB: `for key 'uq_runs_tick'`; MySQL 8: `for key 'runs.uq_runs_tick'`. */
  mysql: string;
  /** `UNIQUE constraint failed: runs.job_id, runs.tick_key, …` */
  sqlite: string;
}

export const LEDGER_KEY: UniqueKey = {
  mysql: 'uq_runs_tick',
  sqlite: 'runs.job_id, runs.tick_key, runs.attempt, runs.executor_key',
};
export const JOB_NAME_KEY: UniqueKey = { mysql: 'uq_jobs_name', sqlite: 'jobs.name' };

/**
 * A duplicate on exactly this unique key. Any other duplicate (a PRIMARY KEY whose AUTO_INCREMENT ran out above
 * all) is a fault to report, never "someone else has it".
 */
export function isDuplicateOn(e: unknown, key: UniqueKey): boolean {
  if (!isDuplicateKey(e)) return false;
  const d = driverError(e);
  const message = d.sqlMessage ?? d.message ?? '';
  if (d.code?.startsWith('SQLITE_')) return message.endsWith(`constraint failed: ${key.sqlite}`);
  return new RegExp(`for key '(?:[^'.]+\\.)?${key.mysql}'`).test(message);
}

/** The server cut the statement off at its time limit (MariaDB max_statement_time, MySQL max_execution_time). */
export function isStatementTimeout(e: unknown): boolean {
  const d = driverError(e);
  return d.errno === 1969 || d.code === 'ER_STATEMENT_TIMEOUT' || d.errno === 3024 || d.code === 'ER_QUERY_TIMEOUT';
}

/** The server can not be reached or has no connection for us now (the API pool's queue is full). */
export function isUnreachable(e: unknown): boolean {
  const d = driverError(e);
  const codes = ['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR'];
  return codes.includes(d.code ?? '') || /Queue limit reached/.test(d.message ?? (e as Error)?.message ?? '');
}

/** SQLite's writer lock is taken by another process (SQLITE_BUSY, or SQLITE_LOCKED within one). */
export function isBusy(e: unknown): boolean {
  const code = driverError(e).code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/**
 * MySQL chose this statement as a deadlock victim (ER_LOCK_DEADLOCK) and rolled it back. Two compare-and-set
 * UPDATEs of one run can take its primary-key and `ix_runs_status` locks in opposite orders, depending on the plan.
 */
export function isDeadlock(e: unknown): boolean {
  const d = driverError(e);
  return d.code === 'ER_LOCK_DEADLOCK' || d.errno === 1213;
}

/**
 * For single-row `save()`s: no implicit transaction. With better-sqlite3 every repository shares the driver's one
 * query runner, so a save's BEGIN … COMMIT/ROLLBACK also wraps whatever other saves run at the same moment (they
 * see the transaction active and join it): a duplicate-key ROLLBACK undid a concurrent claim that had reported
 * success. A single INSERT is atomic without a transaction.
 */
export const SAVE_OPTIONS = { transaction: false } as const;

const BUSY_BUDGET_MS = 10_000;
const BUSY_BACKOFF: Backoff = {
  initialMs: 5,
  maxMs: 100,
  jitter: true,
  budgetMs: BUSY_BUDGET_MS,
  retryable: (e) => isBusy(e) || isDeadlock(e),
};

/**
 * better-sqlite3 waits for a busy database synchronously, freezing the event loop; so the driver's busy timeout
 * is short and we retry here asynchronously, with jitter, for up to `budgetMs`. A MySQL deadlock victim is retried
 * the same way: `fn` is one autocommit statement, rolled back whole, and a compare-and-set re-checks its condition.
 */
export function retryBusy<T>(fn: () => Promise<T>, budgetMs = BUSY_BUDGET_MS): Promise<T> {
  // Every ledger statement comes through here: the usual budget shares one back-off object.
  return retryWithBackoff(fn, budgetMs === BUSY_BUDGET_MS ? BUSY_BACKOFF : { ...BUSY_BACKOFF, budgetMs });
}
