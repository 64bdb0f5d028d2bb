import type { DataSource } from 'typeorm';
import { isDuplicateOn, isStatementTimeout, JOB_NAME_KEY, LEDGER_KEY } from './db-errors';
import { RunsRepository } from './repositories/runs.repository';

// Driver errors as mysql2 and better-sqlite3 raise them (TypeORM wraps them in QueryFailedError with driverError).
const mysqlDup = (key: string) => ({
  driverError: { code: 'ER_DUP_ENTRY', errno: 1062, sqlMessage: `Duplicate entry '2147483647' for key '${key}'` },
});
const sqliteDup = (columns: string, code = 'SQLITE_CONSTRAINT_UNIQUE') => ({
  driverError: { code, message: `UNIQUE constraint failed: ${columns}` },
});

describe('isDuplicateOn', () => {
  it('recognises the ledger key and the job name key by name, in each dialect', () => {
    expect(isDuplicateOn(mysqlDup('uq_runs_tick'), LEDGER_KEY)).toBe(true);
    expect(isDuplicateOn(mysqlDup('runs.uq_runs_tick'), LEDGER_KEY)).toBe(true); // MySQL 8 names the table
    expect(isDuplicateOn(sqliteDup('runs.job_id, runs.tick_key, runs.attempt, runs.executor_key'), LEDGER_KEY)).toBe(
      true,
    );
    expect(isDuplicateOn(mysqlDup('uq_jobs_name'), JOB_NAME_KEY)).toBe(true);
    expect(isDuplicateOn(sqliteDup('jobs.name'), JOB_NAME_KEY)).toBe(true);
  });

  it('does not take any other duplicate for the ledger key: a spent AUTO_INCREMENT is a fault', () => {
    expect(isDuplicateOn(mysqlDup('PRIMARY'), LEDGER_KEY)).toBe(false);
    expect(isDuplicateOn(mysqlDup('uq_jobs_name'), LEDGER_KEY)).toBe(false);
    expect(isDuplicateOn(mysqlDup('xuq_runs_tick'), LEDGER_KEY)).toBe(false);
    expect(isDuplicateOn(sqliteDup('runs.id', 'SQLITE_CONSTRAINT_PRIMARYKEY'), LEDGER_KEY)).toBe(false);
    expect(isDuplicateOn({ driverError: { code: 'ER_AUTOINC_READ_FAILED', errno: 1467 } }, LEDGER_KEY)).toBe(false);
  });

  it('tells a statement cut off at the time limit', () => {
    expect(isStatementTimeout({ driverError: { errno: 1969, code: 'ER_STATEMENT_TIMEOUT' } })).toBe(true);
    expect(isStatementTimeout({ errno: 3024, code: 'ER_QUERY_TIMEOUT' })).toBe(true);
    expect(isStatementTimeout(mysqlDup('PRIMARY'))).toBe(false);
  });
});

describe('RunsRepository.claim', () => {
  const repoFailingWith = (error: unknown) => {
    const repo = {
      create: (x: unknown) => x,
      save: () => Promise.reject(Object.assign(new Error('query failed'), error)),
      countBy: () => Promise.resolve(0), // the ledger has no row under the key
    };
    return new RunsRepository({ options: { type: 'mysql' }, getRepository: () => repo } as unknown as DataSource);
  };
  const run = {
    jobId: 1,
    tickKey: '1796126400',
    attempt: 1,
    scheduledAt: 1796126400000,
    trigger: 'schedule' as const,
    status: 'pending' as const,
    deadlineAt: 1796126460000,
    dispatcherId: 'd',
  };

  it('answers null only when the ledger key is taken (someone else has the tick)', async () => {
    await expect(repoFailingWith(mysqlDup('uq_runs_tick')).claim(run)).resolves.toBeNull();
  });

  it('asks the ledger when a duplicate names no key it knows (a server answering in another language)', async () => {
    const localized = {
      driverError: { code: 'ER_DUP_ENTRY', errno: 1062, sqlMessage: "Doppelter Eintrag '1-k-1-' für Schlüssel 'x'" },
    };
    const withLedger = (rows: number) => {
      const repo = {
        create: (x: unknown) => x,
        save: () => Promise.reject(Object.assign(new Error('query failed'), localized)),
        countBy: () => Promise.resolve(rows),
      };
      return new RunsRepository({ options: { type: 'mysql' }, getRepository: () => repo } as unknown as DataSource);
    };
    await expect(withLedger(1).claim(run)).resolves.toBeNull();
    await expect(withLedger(0).claim(run)).rejects.toThrow('query failed');
  });

  it('throws any other duplicate instead of passing it off as claimed elsewhere', async () => {
    await expect(repoFailingWith(mysqlDup('PRIMARY')).claim(run)).rejects.toMatchObject({
      driverError: { errno: 1062 },
    });
  });
});
