// Reads that must not grow with history (issue 10): on a ledger with a long history, every read on the tick path or
// on a timer touches a number of rows bounded by its page, not by the table; API lists count up to a cap and page
// by keyset; the API's pool cuts slow statements off without holding up claims; executors wait for the schema
// version they need.
import { DataSource, DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '@app/config';
import { mysqlDialect, sqliteDialect } from '../../../test/support/ledger-dialects';
import { rowsTouched } from '../../../test/support/rows-touched';
import { ApiDataSource } from './api-data-source';
import { dataSourceOptions } from './data-source-options';
import { migrate, waitForSchema } from './migrator';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import { ApiReads, TOTAL_CAP } from './repositories/api-reads.repository';
import { JobsRepository } from './repositories/jobs.repository';
import { RunBatchRepository } from './repositories/run-batch.repository';
import { RunsRepository } from './repositories/runs.repository';

const T = Date.parse('2026-11-01T00:00:00Z');
const HISTORY = 30_000;

/** `n` finished runs of a job, one a minute from T, in multi-row INSERTs; then a few of other statuses. */
async function fillHistory(ds: DataSource, jobId: number, n: number, startId = 0): Promise<void> {
  const columns =
    'job_id, tick_key, attempt, executor_key, scheduled_at, `trigger`, status, not_before, deadline_at, ' +
    'started_at, finished_at, output_truncated, created_at, updated_at';
  for (let i = 0; i < n; i += 1000) {
    const rows: unknown[] = [];
    const count = Math.min(1000, n - i);
    for (let k = 0; k < count; k++) {
      const at = T + (startId + i + k) * 60_000;
      const status = (i + k) % 50 === 0 ? 'failed' : 'succeeded';
      rows.push(
        jobId,
        String(at / 1000),
        1,
        '',
        at,
        'schedule',
        status,
        at,
        at + 60_000,
        at + 5,
        at + 50,
        0,
        at,
        at + 50,
      );
    }
    const one = `(${Array(14).fill('?').join(', ')})`;
    await ds.query(`INSERT INTO runs (${columns}) VALUES ${Array(count).fill(one).join(', ')}`, rows);
  }
}

describe('reads on a long history (MariaDB)', () => {
  const dialect = mysqlDialect();
  let config: DatabaseConfig;
  /** One connection, so that the session's handler counters see exactly the statements of the code under test. */
  let ds: DataSource;
  let runs: RunsRepository;
  let batch: RunBatchRepository;
  let jobs: JobsRepository;
  let reads: ApiReads;
  let now: number;

  beforeAll(async () => {
    config = await dialect.fresh();
    const migrator = new DataSource(dataSourceOptions(config));
    await migrator.initialize();
    await migrate(migrator);
    await migrator.destroy();
    ds = new DataSource({ ...dataSourceOptions(config), poolSize: 1 } as DataSourceOptions);
    await ds.initialize();
    runs = new RunsRepository(ds);
    batch = new RunBatchRepository(ds);
    jobs = new JobsRepository(ds);
    reads = new ApiReads(ds);
    await fillHistory(ds, 1, HISTORY);
    await fillHistory(ds, 2, 200, HISTORY);
    now = T + (HISTORY + 300) * 60_000;
    await ds.query('ANALYZE TABLE runs');
  }, 120_000);

  afterAll(async () => {
    await ds?.destroy();
    await dialect.cleanup();
  });

  /** Rows MariaDB touched for `fn`'s statements on the suite's one connection. */
  const touchedBy = (fn: () => Promise<unknown>) => rowsTouched(ds, fn);

  it('touches a bounded number of rows for every read on the tick path and on timers', async () => {
    const recent = { at: now - 10 * 60_000, id: 0 };
    const bounded: [string, () => Promise<unknown>, number][] = [
      ['event feed page', () => reads.runsChangedAfter(recent, null, 500), 50],
      ['settled event feed page', () => reads.runsChangedAfter(recent, now, 500), 50],
      ['last scheduled tick', () => runs.lastScheduledTick(1), 120],
      ['offerable pending runs', () => runs.findOfferableFor('default', now, 0, 1000), 50],
      ['expired pending runs', () => runs.findExpiredPending(now, 1000), 20],
      ['running runs', () => runs.findRunningOn(null), 20],
      ["an executor's running runs", () => runs.findRunningOn(['exec-1']), 20],
      ['a tick has a record', () => runs.tickHasRecord(1, String((T + 5 * 60_000) / 1000)), 20],
      ['active runs of jobs', () => batch.findActiveOf([1, 2]), 20],
      ['changed jobs', () => jobs.findChangedAfter({ at: now - 60_000, id: 0 }, null, 1000), 50],
      ['deleted jobs', () => jobs.findDeletedAfter({ at: now - 60_000, id: 0 }, null, 1000), 20],
      ['newest run of jobs', () => reads.lastRuns([1, 2, 3]), 40],
      // Its count reads up to the cap (twice: the capped rows, then their count).
      ['a run page', () => reads.listRuns({ limit: 50, offset: 0, beforeId: 12_345 }), 2 * (TOTAL_CAP + 1) + 200],
    ];
    const touched: Record<string, number> = {};
    for (const [name, fn] of bounded) touched[name] = await touchedBy(fn);
    const over = Object.entries(touched).filter(([name, n]) => n > bounded.find((b) => b[0] === name)![2]);
    expect(over).toEqual([]);
    // A claim of a new tick reads no history either.
    const claim = await touchedBy(() =>
      batch.claimMany([
        {
          jobId: 1,
          tickKey: String(now / 1000),
          attempt: 1,
          scheduledAt: now,
          trigger: 'schedule',
          status: 'pending',
          deadlineAt: now + 60_000,
          dispatcherId: 'd',
        },
      ]),
    );
    expect(claim).toBeLessThanOrEqual(20);
  });

  it('counts run lists up to the cap, whatever the history behind it', async () => {
    const all = await reads.listRuns({ limit: 50, offset: 0 });
    expect(all).toMatchObject({ total: TOTAL_CAP, totalCapped: true });
    // The count reads up to the cap twice (the capped rows, then their count), whatever the history.
    expect(await touchedBy(() => reads.listRuns({ limit: 50, offset: 0 }))).toBeLessThanOrEqual(
      2 * (TOTAL_CAP + 1) + 200,
    );
    const failed = await reads.listRuns({ limit: 50, offset: 0, status: 'failed' });
    expect(failed).toMatchObject({ total: HISTORY / 50 + 200 / 50, totalCapped: false });
    expect(await touchedBy(() => reads.listRuns({ limit: 50, offset: 0, status: 'failed' }))).toBeLessThanOrEqual(
      2 * (HISTORY / 50 + 200 / 50) + 200,
    );
    const job2 = await reads.listRuns({ limit: 50, offset: 0, jobId: 2 });
    expect(job2).toMatchObject({ total: 200, totalCapped: false });
  });

  it('pages run lists by keyset with beforeId, newest first, with and without filters', async () => {
    const first = await reads.listRuns({ limit: 100, offset: 0, jobId: 1 });
    const second = await reads.listRuns({ limit: 100, offset: 0, jobId: 1, beforeId: first.items[99].id });
    const both = [...first.items, ...second.items].map((r) => r.id);
    expect(both).toEqual([...both].sort((a, b) => b - a));
    expect(new Set(both).size).toBe(200);
    expect(second.items[0].id).toBe(first.items[99].id - 1);
    // The total is the filter's, not the page's.
    expect(second).toMatchObject({ total: TOTAL_CAP, totalCapped: true });
    const failed = await reads.listRuns({ limit: 5, offset: 0, status: 'failed', beforeId: 1000 });
    expect(failed.items.map((r) => r.status)).toEqual(Array(5).fill('failed'));
    expect(failed.items.every((r) => r.id < 1000)).toBe(true);
  });

  it("cuts the API's slow statements off at its timeout, while claims go on through their own pool", async () => {
    const api = new ApiDataSource(ds, config, 1);
    try {
      const reader = await api.get();
      const started = Date.now();
      // Four slow reads: every connection of the API's pool (API_POOL_SIZE) is busy.
      const slow = Array.from({ length: 4 }, () =>
        reader.query('SELECT SLEEP(30) AS s').then(
          (rows: { s: number | string }[]) => ({ ok: true, rows }),
          (e: Error) => ({ ok: false, error: e }),
        ),
      );
      // Meanwhile a claim is made and read back on the main pool.
      const claimed = await batch.claimMany([
        {
          jobId: 2,
          tickKey: 'while-api-busy',
          attempt: 1,
          scheduledAt: now,
          trigger: 'manual',
          status: 'pending',
          deadlineAt: now + 60_000,
          dispatcherId: 'd',
        },
      ]);
      expect(claimed[0]).toEqual(expect.any(Number));
      const settled = await Promise.all(slow);
      const elapsed = Date.now() - started;
      // Each was cut off by the server (MariaDB answers SLEEP's interruption with 1 or an error), well before 30 s.
      for (const r of settled) {
        if (r.ok) expect(Number((r as { rows: { s: number | string }[] }).rows[0].s)).toBe(1);
        else expect((r as { error: Error }).error.message).toMatch(/max_statement_time|interrupted|execution time/i);
      }
      expect(elapsed).toBeLessThan(20_000);
    } finally {
      await api.onApplicationShutdown();
    }
  });
});

describe('reads on a long history (SQLite)', () => {
  const dialect = sqliteDialect();
  let ds: DataSource;
  /** Every statement prepared on the driver's connection, as written. */
  const prepared: string[] = [];

  beforeAll(async () => {
    ds = new DataSource(dataSourceOptions(await dialect.fresh()));
    await ds.initialize();
    await migrate(ds);
    await fillHistory(ds, 1, HISTORY);
    await fillHistory(ds, 2, 200, HISTORY);
    await ds.query('ANALYZE');
    const db = (ds.driver as unknown as { databaseConnection: { prepare: (sql: string) => unknown } })
      .databaseConnection;
    const prepare = db.prepare.bind(db);
    db.prepare = (sql: string) => {
      prepared.push(sql);
      return prepare(sql);
    };
  }, 120_000);

  afterAll(async () => {
    await ds?.destroy();
    await dialect.cleanup();
  });

  /** The query plan of every statement `fn` ran that reads the runs table by a full scan (table or index). */
  async function scansOfRuns(fn: () => Promise<unknown>): Promise<string[]> {
    prepared.length = 0;
    await fn();
    const statements = prepared.splice(0).filter((sql) => /\bruns\b/.test(sql) && !/^\s*EXPLAIN/i.test(sql));
    expect(statements.length).toBeGreaterThan(0);
    const scans: string[] = [];
    for (const sql of statements) {
      // The plan does not depend on the values bound (no STAT4): zeros stand for them.
      const params = Array<number>((sql.match(/\?/g) ?? []).length).fill(0);
      const plan = await ds.query<{ detail: string }[]>(`EXPLAIN QUERY PLAN ${sql}`, params);
      // SQLite names a table by its alias: TypeORM's find() calls runs "RunEntity".
      for (const { detail } of plan) if (/^SCAN (runs|RunEntity|r|r2)\b/.test(detail)) scans.push(`${detail}: ${sql}`);
    }
    return scans;
  }

  it('reads the runs table only through index searches on the tick path and on timers', async () => {
    const runs = new RunsRepository(ds);
    const batch = new RunBatchRepository(ds);
    const reads = new ApiReads(ds);
    const now = T + (HISTORY + 300) * 60_000;
    const recent = { at: now - 10 * 60_000, id: 0 };
    const reads$: [string, () => Promise<unknown>][] = [
      ['event feed page', () => reads.runsChangedAfter(recent, null, 500)],
      ['settled event feed page', () => reads.runsChangedAfter(recent, now, 500)],
      ['last scheduled tick', () => runs.lastScheduledTick(1)],
      ['offerable pending runs', () => runs.findOfferableFor('default', now, 0, 1000)],
      ['expired pending runs', () => runs.findExpiredPending(now, 1000)],
      ['running runs', () => runs.findRunningOn(null)],
      ["an executor's running runs", () => runs.findRunningOn(['exec-1'])],
      ['a tick has a record', () => runs.tickHasRecord(1, String((T + 5 * 60_000) / 1000))],
      ['active runs of jobs', () => batch.findActiveOf([1, 2])],
      ['newest run of jobs', () => reads.lastRuns([1, 2, 3])],
      ['a run page', () => reads.listRuns({ limit: 50, offset: 0, beforeId: 12_345 })],
      ['a page of failed runs', () => reads.listRuns({ limit: 50, offset: 0, status: 'failed' })],
      ["a job's runs", () => reads.listRuns({ limit: 50, offset: 0, jobId: 1 })],
    ];
    const found: Record<string, string[]> = {};
    for (const [name, fn] of reads$) {
      const scans = await scansOfRuns(fn);
      // A capped count may scan: it stops after TOTAL_CAP + 1 rows ("LIMIT" in its subquery).
      const uncapped = scans.filter((s) => !s.includes(`LIMIT ${TOTAL_CAP + 1}`));
      if (uncapped.length > 0) found[name] = uncapped;
    }
    expect(found).toEqual({});
  });
});

describe('the WideIds migration (MariaDB)', () => {
  const dialect = mysqlDialect();
  afterAll(() => dialect.cleanup());

  it('runs again after a process died between its long ALTER and its record', async () => {
    const db = await dialect.fresh();
    const older = new DataSource({ ...dataSourceOptions(db), migrations: MIGRATIONS.slice(0, 2) });
    await older.initialize();
    try {
      await older.runMigrations();
      await fillHistory(older, 1, 100);
      // The runs ALTER completed on the server; the dispatcher running it was killed before the rest.
      await older.query(`ALTER TABLE runs MODIFY id BIGINT NOT NULL AUTO_INCREMENT, MODIFY job_id BIGINT NOT NULL,
        DROP INDEX ix_runs_status, ADD INDEX ix_runs_status (status, id), ADD INDEX ix_runs_updated (updated_at, id),
        ADD INDEX ix_runs_job_sched (job_id, scheduled_at)`);
      const current = new DataSource(dataSourceOptions(db));
      await current.initialize();
      try {
        // Every migration from WideIds on (the ones after the older build's).
        expect(await migrate(current)).toEqual(MIGRATIONS.slice(2).map((m) => new m().name));
        expect(MIGRATIONS.slice(2).map((m) => new m().name)[0]).toBe('WideIds1765000000000');
        const types = await current.query<{ t: string; c: string }[]>(
          `SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
           AND DATA_TYPE = 'bigint' AND COLUMN_NAME IN ('id', 'job_id')
           AND TABLE_NAME IN ('jobs', 'runs', 'job_tombstones') ORDER BY t, c`,
        );
        expect(types.map((r) => `${r.t}.${r.c}`).sort()).toEqual([
          'job_tombstones.job_id',
          'jobs.id',
          'runs.id',
          'runs.job_id',
        ]);
        expect(await current.query('SELECT COUNT(*) AS n FROM runs')).toEqual([{ n: '100' }]);
      } finally {
        await current.destroy();
      }
    } finally {
      await older.destroy();
    }
  });
});

describe.each([
  ['SQLite', sqliteDialect],
  ['MariaDB', mysqlDialect],
])('schema version (%s)', (_name, makeDialect) => {
  const dialect = makeDialect();
  afterAll(() => dialect.cleanup());

  it('makes an executor wait for the version it needs, not for a runs table of an older one', async () => {
    const db = await dialect.fresh();
    // A database a dispatcher of an older build migrated: the runs table is there, this build's schema is not.
    const older = new DataSource({ ...dataSourceOptions(db), migrations: MIGRATIONS.slice(0, 2) });
    await older.initialize();
    const executor = new DataSource(dataSourceOptions(db));
    await executor.initialize();
    try {
      await older.runMigrations();
      await expect(executor.query('SELECT id FROM runs WHERE 1 = 0')).resolves.toEqual([]);
      await expect(waitForSchema(executor, 1000)).rejects.toThrow(new RegExp(`schema.*${SCHEMA_VERSION}`, 's'));
      // A dispatcher of this build migrates: the executor goes on.
      const waiting = waitForSchema(executor, 30_000);
      await migrate(executor);
      await expect(waiting).resolves.toBeUndefined();
    } finally {
      await older.destroy();
      await executor.destroy();
    }
  });
});
