// The run ledger and the jobs table against both real dialects: SQLite on a file shared by two connections, and
// MariaDB with a fresh database per suite. The same cases run on each: what the ledger promises (one row per
// ledger key, compare-and-set status moves, retries claimed once) must hold on both.
import Database from 'better-sqlite3';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '@app/config';
import { mysqlDialect, sqliteDialect } from '../../../test/support/ledger-dialects';
import { dataSourceOptions } from './data-source-options';
import { migrate } from './migrator';
import { MIGRATIONS } from './migrations';
import { PersistenceError } from './persistence.error';
import { ApiReads } from './repositories/api-reads.repository';
import { JobsRepository, NewJob } from './repositories/jobs.repository';
import { RunBatchRepository } from './repositories/run-batch.repository';
import { LedgerKey, NewRun, RetryPolicy, RunsRepository } from './repositories/runs.repository';
import { pendingRun } from '../../../test/support/ledger-rows';

/** A fixed instant, so every timestamp in the assertions is exact. */
const T = 1_700_000_000_000;

function job(name: string, over: Partial<NewJob> = {}): NewJob {
  return {
    name,
    description: '',
    cron: '*/5 * * * * *',
    timezone: 'UTC',
    type: 'shell',
    command: 'true',
    env: {},
    http: null,
    timeoutMs: 5000,
    retries: 0,
    retryBackoffMs: 1000,
    concurrency: 'allow',
    misfire: 'skip',
    group: 'default',
    routing: 'round_robin',
    enabled: true,
    scheduleSetAt: T,
    lastTickAt: 0,
    nextRunAt: null,
    ...over,
  };
}

const run = (jobId: number, tickKey: string, over: Partial<NewRun> = {}): NewRun => pendingRun(jobId, tickKey, T, over);

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])('ledger on $dialect.name', ({ dialect }) => {
  const sources: DataSource[] = [];
  let config: DatabaseConfig;
  /** Two connections (SQLite: two handles on one file; MariaDB: two pools) on the suite's database. */
  let ds1: DataSource;
  let ds2: DataSource;
  let runs1: RunsRepository;
  let runs2: RunsRepository;
  /** Where executors move runs to running (markRunningMany), on each connection. */
  let batch1: RunBatchRepository;
  let batch2: RunBatchRepository;
  let jobs: JobsRepository;
  let reads: ApiReads;

  async function open(db: DatabaseConfig): Promise<DataSource> {
    const ds = new DataSource(dataSourceOptions(db));
    sources.push(ds);
    await ds.initialize();
    return ds;
  }

  async function count(sql: string, params: unknown[] = [], ds = ds1): Promise<number> {
    const rows = await ds.query<{ n: string | number }[]>(sql, params);
    return Number(rows[0].n);
  }

  /** CAS pending → running of one run, as an executor starts it; whether this caller got it. */
  const markRunning = async (
    ledger: RunBatchRepository,
    run: LedgerKey,
    executorId: string,
    address: string,
    at: number,
  ) => (await ledger.markRunningMany([run], executorId, address, at)).started.has(run.id);

  const countRuns = (jobId: number, tickKey: string) =>
    count(`SELECT COUNT(*) AS n FROM runs WHERE job_id = ? AND tick_key = ?`, [jobId, tickKey]);

  beforeAll(async () => {
    config = await dialect.fresh();
    ds1 = await open(config);
    await migrate(ds1);
    ds2 = await open(config);
    runs1 = new RunsRepository(ds1);
    runs2 = new RunsRepository(ds2);
    batch1 = new RunBatchRepository(ds1);
    batch2 = new RunBatchRepository(ds2);
    jobs = new JobsRepository(ds1);
    reads = new ApiReads(ds1);
  });

  afterAll(async () => {
    for (const ds of sources.splice(0)) if (ds.isInitialized) await ds.destroy();
    await dialect.cleanup();
  });

  beforeEach(async () => {
    await ds1.query('DELETE FROM runs');
    await ds1.query('DELETE FROM jobs');
    await ds1.query('DELETE FROM job_tombstones');
  });

  describe('migrate()', () => {
    it('is idempotent', async () => {
      expect(await migrate(ds1)).toEqual([]);
      expect(await migrate(ds2)).toEqual([]);
      expect(await count(`SELECT COUNT(*) AS n FROM migrations`)).toBe(MIGRATIONS.length);
      expect(await count(`SELECT COUNT(*) AS n FROM runs`)).toBe(0);
    });

    it('lets two connections migrate the same fresh database concurrently', async () => {
      const db = await dialect.fresh();
      const [a, b] = await Promise.all([open(db), open(db)]);
      const [ranA, ranB] = await Promise.all([migrate(a), migrate(b)]);
      // Exactly one of them applied the migrations; the other found them applied.
      expect([...ranA, ...ranB]).toEqual(MIGRATIONS.map((m) => new m().name));
      expect(await count(`SELECT COUNT(*) AS n FROM migrations`, [], a)).toBe(MIGRATIONS.length);
      const tables =
        dialect.name === 'sqlite'
          ? `SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('jobs', 'runs')`
          : `SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN ('jobs', 'runs')`;
      expect(await count(tables, [], a)).toBe(2);
      // Both connections can use the schema.
      expect(await new RunsRepository(b).claim(run(1, 'k'), T)).not.toBeNull();
      expect(await count(`SELECT COUNT(*) AS n FROM runs`, [], a)).toBe(1);
      await Promise.all([a.destroy(), b.destroy()]);
    });
  });

  describe('claim()', () => {
    it('returns null for a ledger key that already has a row', async () => {
      const first = await runs1.claim(run(1, 'tick-1'), T);
      expect(first).toMatchObject({ jobId: 1, tickKey: 'tick-1', attempt: 1, executorKey: '', status: 'pending' });
      expect(first?.id).toEqual(expect.any(Number));
      await expect(runs1.claim(run(1, 'tick-1'), T)).resolves.toBeNull();
      await expect(runs2.claim(run(1, 'tick-1', { dispatcherId: 'd2' }), T)).resolves.toBeNull();
      expect(await countRuns(1, 'tick-1')).toBe(1);
      expect((await runs1.findById(first!.id))?.dispatcherId).toBe('d1');
    });

    it('treats another attempt or another executorKey as a separate row', async () => {
      expect(await runs1.claim(run(1, 'tick-1'), T)).not.toBeNull();
      expect(await runs1.claim(run(1, 'tick-1', { attempt: 2 }), T)).not.toBeNull();
      expect(await runs1.claim(run(1, 'tick-1', { executorKey: 'exec-a' }), T)).not.toBeNull();
      expect(await runs1.claim(run(1, 'tick-1', { executorKey: 'exec-b' }), T)).not.toBeNull();
      expect(await runs1.claim(run(2, 'tick-1'), T)).not.toBeNull();
      expect(await runs1.claim(run(1, 'tick-2'), T)).not.toBeNull();
      expect(await runs1.claim(run(1, 'tick-1', { executorKey: 'exec-a' }), T)).toBeNull();
      expect(await countRuns(1, 'tick-1')).toBe(4);
      expect(await count(`SELECT COUNT(*) AS n FROM runs`)).toBe(6);
    });

    it('gives exactly one of 20 concurrent claims of one key across two connections the row', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? runs2 : runs1).claim(run(7, 'race', { dispatcherId: `d${i}` }), T),
        ),
      );
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      expect(await countRuns(7, 'race')).toBe(1);
      const row = await runs1.findById(winners[0].id);
      expect(row?.dispatcherId).toBe(winners[0].dispatcherId);
    });

    it('keeps every row of concurrent claims of distinct keys mixed with duplicates', async () => {
      // Distinct keys must all land even when other claims on the same connection fail as duplicates.
      await runs1.claim(run(8, 'dup'), T);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 4 < 2 ? runs1 : runs2).claim(i % 2 ? run(8, 'dup') : run(8, `k${i}`), T),
        ),
      );
      const claimed = results.filter((r) => r !== null);
      expect(claimed.map((r) => r.tickKey).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i * 2}`).sort());
      for (const r of claimed) expect(await runs1.findById(r.id)).toMatchObject({ tickKey: r.tickKey });
      expect(await count(`SELECT COUNT(*) AS n FROM runs WHERE job_id = 8`)).toBe(11);
    });

    it('does not lose a claim that runs beside a duplicate claim on the same connection', async () => {
      // Regression: on SQLite every save() shares one query runner, so a claim started while a duplicate claim had
      // its implicit transaction open ran inside it and was rolled back with it, yet returned a run (a phantom id).
      await runs1.claim(run(9, 'dup'), T);
      const phantoms: string[] = [];
      for (let lag = 0; lag < 24; lag++) {
        const duplicate = runs1.claim(run(9, 'dup'), T);
        let delay: Promise<void> = Promise.resolve();
        for (let i = 0; i < lag; i++) delay = delay.then(() => undefined);
        const fresh = delay.then(() => runs1.claim(run(9, `fresh-${lag}`), T));
        const [dup, claimed] = await Promise.all([duplicate, fresh]);
        expect(dup).toBeNull();
        expect(claimed).not.toBeNull();
        const row = await runs1.findById(claimed!.id);
        if (row?.tickKey !== claimed!.tickKey) phantoms.push(`${claimed!.tickKey} (id ${claimed!.id})`);
      }
      expect(phantoms).toEqual([]);
      expect(await count(`SELECT COUNT(*) AS n FROM runs WHERE job_id = 9`)).toBe(25);
    });

    it('does not lose a job created beside a duplicate create on the same connection', async () => {
      await jobs.create(job('taken'), T);
      for (let lag = 0; lag < 24; lag++) {
        const duplicate = jobs.create(job('taken'), T).catch((e: unknown) => e);
        let delay: Promise<void> = Promise.resolve();
        for (let i = 0; i < lag; i++) delay = delay.then(() => undefined);
        const fresh = delay.then(() => jobs.create(job(`fresh-${lag}`), T));
        const [err, created] = await Promise.all([duplicate, fresh]);
        expect(err).toMatchObject({ code: 'NAME_TAKEN' });
        expect((await jobs.findById(created.id))?.name).toBe(`fresh-${lag}`);
      }
      expect(await count(`SELECT COUNT(*) AS n FROM jobs`)).toBe(25);
    });
  });

  describe('markRunningMany() of one run', () => {
    it('succeeds for the first caller only', async () => {
      const r = (await runs1.claim(run(1, 't'), T))!;
      expect(await markRunning(batch1, r, 'exec-1', '10.0.0.1:7000', T + 10)).toBe(true);
      expect(await markRunning(batch2, r, 'exec-2', '10.0.0.2:7000', T + 20)).toBe(false);
      expect(await runs1.findById(r.id)).toMatchObject({
        status: 'running',
        executorId: 'exec-1',
        executorAddress: '10.0.0.1:7000',
        startedAt: T + 10,
      });
    });

    it('lets exactly one of concurrent callers win', async () => {
      const r = (await runs1.claim(run(1, 't'), T))!;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => markRunning(i % 2 ? batch2 : batch1, r, `exec-${i}`, `a${i}`, T + i)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await runs1.findById(r.id)).toMatchObject({ status: 'running', executorId: `exec-${winner}` });
    });

    it('can not move a run in a final status back to running', async () => {
      const skipped = (await runs1.claim(run(1, 's', { status: 'skipped' }), T))!;
      expect(skipped.finishedAt).toBe(T);
      expect(await markRunning(batch1, skipped, 'exec-1', 'a', T + 1)).toBe(false);

      const done = (await runs1.claim(run(1, 'd'), T))!;
      expect(await markRunning(batch1, done, 'exec-1', 'a', T + 1)).toBe(true);
      expect(await runs1.finish(done.id, { status: 'succeeded', finishedAt: T + 2 })).toBe(true);
      expect(await markRunning(batch1, done, 'exec-2', 'b', T + 3)).toBe(false);
      expect(await runs1.findById(done.id)).toMatchObject({ status: 'succeeded', executorId: 'exec-1' });
      expect((await runs1.findById(skipped.id))?.status).toBe('skipped');
    });
  });

  describe('finish()', () => {
    it('moves running to a final status once; a stale report does not overwrite it', async () => {
      const r = (await runs1.claim(run(1, 't'), T))!;
      await markRunning(batch1, r, 'exec-1', 'a', T + 100);
      expect(
        await runs1.finish(r.id, { status: 'succeeded', finishedAt: T + 600, exitCode: 0, output: 'all good' }),
      ).toBe(true);
      expect(await runs2.finish(r.id, { status: 'failed', finishedAt: T + 700, exitCode: 1, output: 'late' })).toBe(
        false,
      );
      expect(
        await runs2.finish(r.id, { status: 'lost', finishedAt: T + 800, error: 'executor gone' }, [
          'pending',
          'running',
        ]),
      ).toBe(false);
      expect(await runs1.findById(r.id)).toMatchObject({
        status: 'succeeded',
        finishedAt: T + 600,
        durationMs: 500,
        exitCode: 0,
        output: 'all good',
        outputTruncated: false,
        error: null,
      });
      // Written long after its finish (T is in 2023): stamped with the write's instant, for the change readers.
      expect((await runs1.findById(r.id))?.updatedAt).toBeGreaterThan(Date.now() - 60_000);
    });

    it('does not finish a running run from pending only', async () => {
      const r = (await runs1.claim(run(1, 't'), T))!;
      await markRunning(batch1, r, 'exec-1', 'a', T + 100);
      expect(await runs1.finish(r.id, { status: 'cancelled', finishedAt: T + 200 }, ['pending'])).toBe(false);
      expect((await runs1.findById(r.id))?.status).toBe('running');
    });

    it('finishes a pending run from pending with no duration', async () => {
      const r = (await runs1.claim(run(1, 't'), T))!;
      expect(await runs1.finish(r.id, { status: 'missed', finishedAt: T + 200, error: 'deadline' }, ['pending'])).toBe(
        true,
      );
      expect(await runs1.findById(r.id)).toMatchObject({ status: 'missed', durationMs: null, error: 'deadline' });
    });

    it('stores output with its truncation flag', async () => {
      const r = (await runs1.claim(run(1, 't'), T))!;
      await markRunning(batch1, r, 'exec-1', 'a', T);
      const output = 'x'.repeat(70_000);
      expect(
        await runs1.finish(r.id, { status: 'failed', finishedAt: T + 1, exitCode: 2, output, outputTruncated: true }),
      ).toBe(true);
      expect(await runs2.findById(r.id)).toMatchObject({ output, outputTruncated: true, exitCode: 2 });
    });
  });

  describe('finishWithRetry()', () => {
    const policy: RetryPolicy = { retries: 2, retryBackoffMs: 1000, timeoutMs: 5000 };

    it('claims one retry per failed attempt with doubling back-off until the retries run out', async () => {
      const a1 = (await runs1.claim(run(3, 'tick', { scheduledAt: T - 5 }), T))!;
      await markRunning(batch1, a1, 'exec-1', 'a', T + 10);
      const f1 = T + 100;
      const r1 = await runs1.finishWithRetry(a1, { status: 'failed', finishedAt: f1, exitCode: 1 }, policy);
      expect(r1.finished).toBe(true);
      expect(r1.retry).toMatchObject({
        jobId: 3,
        tickKey: 'tick',
        attempt: 2,
        executorKey: '',
        trigger: 'retry',
        status: 'pending',
        scheduledAt: T - 5,
        notBefore: f1 + 1000,
        deadlineAt: f1 + 1000 + 5000,
        dispatcherId: null,
        createdAt: f1,
      });
      expect(await runs1.findById(r1.retry!.id)).toMatchObject({ attempt: 2, trigger: 'retry', notBefore: f1 + 1000 });
      expect(await countRuns(3, 'tick')).toBe(2);

      const a2 = r1.retry!;
      await markRunning(batch1, a2, 'exec-2', 'b', f1 + 1000);
      const f2 = f1 + 1500;
      const r2 = await runs1.finishWithRetry(a2, { status: 'timed_out', finishedAt: f2 }, policy);
      expect(r2.finished).toBe(true);
      expect(r2.retry).toMatchObject({ attempt: 3, trigger: 'retry', tickKey: 'tick', notBefore: f2 + 2000 });
      expect(await countRuns(3, 'tick')).toBe(3);

      const a3 = r2.retry!;
      await markRunning(batch1, a3, 'exec-1', 'a', f2 + 2000);
      const r3 = await runs1.finishWithRetry(a3, { status: 'failed', finishedAt: f2 + 2100 }, policy);
      expect(r3).toEqual({ finished: true, retry: null });
      expect(await countRuns(3, 'tick')).toBe(3);
      const attempts = (await reads.listRuns({ jobId: 3, limit: 10, offset: 0 })).items.map((r) => [
        r.attempt,
        r.status,
      ]);
      expect(attempts).toEqual([
        [3, 'failed'],
        [2, 'timed_out'],
        [1, 'failed'],
      ]);
    });

    it('claims no retry for a success, a non-retryable status, or no policy', async () => {
      const ok = (await runs1.claim(run(3, 'ok'), T))!;
      await markRunning(batch1, ok, 'e', 'a', T);
      expect(await runs1.finishWithRetry(ok, { status: 'succeeded', finishedAt: T + 1 }, policy)).toEqual({
        finished: true,
        retry: null,
      });
      const cancelled = (await runs1.claim(run(3, 'cancelled'), T))!;
      await markRunning(batch1, cancelled, 'e', 'a', T);
      expect(await runs1.finishWithRetry(cancelled, { status: 'cancelled', finishedAt: T + 1 }, policy)).toEqual({
        finished: true,
        retry: null,
      });
      const noPolicy = (await runs1.claim(run(3, 'nopolicy'), T))!;
      await markRunning(batch1, noPolicy, 'e', 'a', T);
      expect(await runs1.finishWithRetry(noPolicy, { status: 'failed', finishedAt: T + 1 }, null)).toEqual({
        finished: true,
        retry: null,
      });
      expect(await count(`SELECT COUNT(*) AS n FROM runs WHERE job_id = 3`)).toBe(3);
    });

    it('claims no retry when the finish was stale', async () => {
      const r = (await runs1.claim(run(3, 'stale'), T))!;
      await markRunning(batch1, r, 'e', 'a', T);
      expect(await runs1.finish(r.id, { status: 'succeeded', finishedAt: T + 1 })).toBe(true);
      expect(
        await runs2.finishWithRetry(r, { status: 'lost', finishedAt: T + 2 }, policy, ['pending', 'running']),
      ).toEqual({ finished: false, retry: null });
      expect(await countRuns(3, 'stale')).toBe(1);
    });

    it('keeps a broadcast run’s executorKey on its retry', async () => {
      const r = (await runs1.claim(run(3, 'b', { executorKey: 'exec-9' }), T))!;
      await markRunning(batch1, r, 'exec-9', 'a', T);
      const { retry } = await runs1.finishWithRetry(r, { status: 'failed', finishedAt: T + 1 }, policy);
      expect(retry).toMatchObject({ executorKey: 'exec-9', attempt: 2 });
      expect(await runs1.findAttempt(r, 1)).toMatchObject({ id: r.id, status: 'failed' });
      expect(await runs1.findAttempt(r, 2)).toMatchObject({ id: retry!.id });
    });

    it('finishes once and claims at most one retry when two callers race', async () => {
      // Many rounds, so the interleavings that matter actually happen (on MariaDB the two CAS updates of one row
      // could deadlock: ER_LOCK_DEADLOCK, retried by retryBusy).
      for (let round = 0; round < 20; round++) {
        const r = (await runs1.claim(run(4, `race-${round}`), T))!;
        await markRunning(batch1, r, 'e', 'a', T);
        const results = await Promise.all([
          runs1.finishWithRetry(r, { status: 'failed', finishedAt: T + 10, exitCode: 1 }, policy),
          runs2.finishWithRetry(r, { status: 'lost', finishedAt: T + 20, error: 'gone' }, policy, [
            'pending',
            'running',
          ]),
        ]);
        expect(results.filter((x) => x.finished)).toHaveLength(1);
        const retries = results.filter((x) => x.retry !== null);
        expect(retries.length).toBeLessThanOrEqual(1);
        expect(await countRuns(4, `race-${round}`)).toBe(1 + retries.length);
        const winner = results.find((x) => x.finished)!;
        expect(winner.retry).not.toBeNull();
        expect(await runs1.findById(winner.retry!.id)).toMatchObject({ attempt: 2, trigger: 'retry' });
        expect((await runs1.findById(r.id))?.status).toBe(winner === results[0] ? 'failed' : 'lost');
      }
    });
  });

  describe('JobsRepository', () => {
    it('creates jobs and rejects a duplicate name with NAME_TAKEN', async () => {
      const a = await jobs.create(job('alpha', { env: { A: '1' }, http: null }), T);
      expect(a).toMatchObject({ id: expect.any(Number), name: 'alpha', version: 1, createdAt: T, updatedAt: T });
      expect(await jobs.findById(a.id)).toMatchObject({ name: 'alpha', env: { A: '1' }, enabled: true, lastTickAt: 0 });
      const dup = jobs.create(job('alpha'), T + 1);
      await expect(dup).rejects.toBeInstanceOf(PersistenceError);
      await expect(jobs.create(job('alpha'), T + 1)).rejects.toMatchObject({ code: 'NAME_TAKEN' });
      expect(await count(`SELECT COUNT(*) AS n FROM jobs`)).toBe(1);

      const b = await jobs.create(job('beta'), T);
      await expect(jobs.update(b.id, 1, { name: 'alpha' }, T + 2)).rejects.toMatchObject({ code: 'NAME_TAKEN' });
      expect((await jobs.findById(b.id))?.name).toBe('beta');
    });

    it('update() bumps the version and updatedAt; an unknown id is not_found', async () => {
      const a = await jobs.create(job('alpha'), T);
      const u1 = await jobs.update(a.id, 1, { cron: '0 * * * * *', enabled: false }, T + 5);
      expect(u1).toMatchObject({
        outcome: 'updated',
        job: { cron: '0 * * * * *', enabled: false, version: 2, updatedAt: T + 5, createdAt: T },
      });
      const u2 = await jobs.update(a.id, 2, { description: 'x' }, T + 6);
      expect(u2).toMatchObject({ outcome: 'updated', job: { version: 3, description: 'x', enabled: false } });
      expect(await jobs.update(a.id + 1000, 1, { description: 'y' }, T + 7)).toEqual({ outcome: 'not_found' });
      expect(
        new Map((await jobs.findChangedAfter({ at: 0, id: 0 }, null, 1000)).map((j) => [j.id, j.version])),
      ).toEqual(new Map([[a.id, 3]]));
    });

    // Issue 11, item 1: the write of a read-merge-write lands only on the version read, on a second connection too.
    it('update() writes only onto the expected version; a stale one writes nothing and hears the current', async () => {
      const a = await jobs.create(job('alpha', { description: 'v1' }), T);
      const other = new JobsRepository(ds2);
      expect(await other.update(a.id, 1, { description: 'first' }, T + 1)).toMatchObject({ outcome: 'updated' });
      expect(await jobs.update(a.id, 1, { description: 'second', command: 'x' }, T + 2)).toEqual({
        outcome: 'stale',
        version: 2,
      });
      expect(await jobs.findById(a.id)).toMatchObject({ description: 'first', command: 'true', version: 2 });
      // A write that changes no column still moves the version (MySQL counts changed rows, not matched ones).
      expect(await jobs.update(a.id, 2, { description: 'first' }, T + 1)).toMatchObject({ job: { version: 3 } });
      await jobs.delete(a.id, T + 3);
      expect(await jobs.update(a.id, 3, { description: 'gone' }, T + 4)).toEqual({ outcome: 'not_found' });
    });

    it('advanceCursor() only moves forward and does not bump the version', async () => {
      const a = await jobs.create(job('alpha'), T);
      await jobs.advanceCursor(a.id, 2000, 3000);
      await jobs.advanceCursor(a.id, 1000, 9999);
      expect(await jobs.findById(a.id)).toMatchObject({ lastTickAt: 2000, nextRunAt: 3000, version: 1, updatedAt: T });
      await jobs.advanceCursor(a.id, 2000, 4000);
      expect((await jobs.findById(a.id))?.nextRunAt).toBe(3000);
      await jobs.advanceCursor(a.id, 2001, null);
      expect(await jobs.findById(a.id)).toMatchObject({ lastTickAt: 2001, nextRunAt: null });
    });

    it('advanceCursors() moves many jobs forward in batches, never backwards, leaving others alone', async () => {
      const created: Awaited<ReturnType<JobsRepository['create']>>[] = [];
      for (let i = 0; i < 7; i++) created.push(await jobs.create(job(`batch-${i}`), T));
      const untouched = await jobs.create(job('untouched'), T);
      await jobs.advanceCursor(created[0].id, 50_000, 51_000);
      // 600 entries: two statements (500 a statement); job 0 is asked to move backwards.
      const batch = created.map((j, i) => ({ id: j.id, tickAt: 10_000 + i, nextRunAt: 20_000 + i }));
      const padding = Array.from({ length: 593 }, (_, i) => ({ id: 900_000 + i, tickAt: 1, nextRunAt: 1 }));
      await jobs.advanceCursors([...batch, ...padding]);
      expect(await jobs.findById(created[0].id)).toMatchObject({ lastTickAt: 50_000, nextRunAt: 51_000 });
      for (let i = 1; i < 7; i++) {
        expect(await jobs.findById(created[i].id)).toMatchObject({
          lastTickAt: 10_000 + i,
          nextRunAt: 20_000 + i,
          version: 1,
        });
      }
      expect(await jobs.findById(untouched.id)).toMatchObject({
        lastTickAt: untouched.lastTickAt,
        nextRunAt: untouched.nextRunAt,
      });
    });

    it('advanceCursors() given one job twice keeps the furthest move, whichever comes first', async () => {
      const a = await jobs.create(job('twice-a'), T);
      const b = await jobs.create(job('twice-b'), T);
      await jobs.advanceCursors([
        { id: a.id, tickAt: 30_000, nextRunAt: 31_000 },
        { id: b.id, tickAt: 20_000, nextRunAt: 21_000 },
        { id: a.id, tickAt: 25_000, nextRunAt: 26_000 },
        { id: b.id, tickAt: 40_000, nextRunAt: 41_000 },
      ]);
      expect(await jobs.findById(a.id)).toMatchObject({ lastTickAt: 30_000, nextRunAt: 31_000 });
      expect(await jobs.findById(b.id)).toMatchObject({ lastTickAt: 40_000, nextRunAt: 41_000 });
    });

    it('findChangedAfter() pages through creates and updates in (updatedAt, id) order, not cursor moves', async () => {
      const a = await jobs.create(job('alpha'), T);
      const b = await jobs.create(job('beta'), T);
      const c = await jobs.create(job('gamma'), T + 10);
      const ids = async (after: { at: number; id: number }, upTo: number | null, limit = 10) =>
        (await jobs.findChangedAfter(after, upTo, limit)).map((j) => j.id);
      expect(await ids({ at: 0, id: 0 }, null)).toEqual([a.id, b.id, c.id]);
      // Keyset: after (T, a) come b (same instant, larger id) and c; a page of one always moves on.
      expect(await ids({ at: T, id: a.id }, null)).toEqual([b.id, c.id]);
      expect(await ids({ at: T, id: a.id }, null, 1)).toEqual([b.id]);
      expect(await ids({ at: T, id: b.id }, null, 1)).toEqual([c.id]);
      expect(await ids({ at: 0, id: 0 }, T)).toEqual([a.id, b.id]);
      await jobs.advanceCursor(a.id, 5000, 6000);
      await jobs.advanceCursors([{ id: b.id, tickAt: 7000, nextRunAt: 8000 }]);
      expect(await ids({ at: T + 10, id: c.id }, null)).toEqual([]);
      await jobs.update(a.id, 1, { description: 'changed' }, T + 20);
      expect(await ids({ at: T + 10, id: c.id }, null)).toEqual([a.id]);
    });

    it('delete() leaves a tombstone that findDeletedAfter() pages through; pruneTombstones() drops old ones', async () => {
      const a = await jobs.create(job('alpha'), T);
      const b = await jobs.create(job('beta'), T);
      expect(await jobs.delete(a.id, T + 100)).toBe(true);
      expect(await jobs.delete(b.id, T + 200)).toBe(true);
      expect(await jobs.delete(b.id, T + 300)).toBe(false);
      expect(await jobs.findDeletedAfter({ at: 0, id: 0 }, null, 10)).toEqual([
        { id: a.id, deletedAt: T + 100 },
        { id: b.id, deletedAt: T + 200 },
      ]);
      expect(await jobs.findDeletedAfter({ at: T + 100, id: a.id }, null, 10)).toEqual([
        { id: b.id, deletedAt: T + 200 },
      ]);
      expect(await jobs.findDeletedAfter({ at: 0, id: 0 }, T + 150, 10)).toEqual([{ id: a.id, deletedAt: T + 100 }]);
      expect(await jobs.pruneTombstones(T + 150)).toBe(1);
      expect(await jobs.findDeletedAfter({ at: 0, id: 0 }, null, 10)).toEqual([{ id: b.id, deletedAt: T + 200 }]);
    });

    it('list() matches q literally, including % _ and \\', async () => {
      const names = ['disk_usage', 'diskXusage', 'cpu 100%', 'cpu 1000', 'back\\slash', 'backXslash', 'plain'];
      for (const name of names) await jobs.create(job(name), T);
      await jobs.create(job('described', { description: 'checks disk_usage nightly' }), T);
      const q = async (text: string) =>
        (await reads.listJobs({ limit: 50, offset: 0, q: text })).items.map((j) => j.name).sort();
      expect(await q('_')).toEqual(['described', 'disk_usage']);
      expect(await q('disk_')).toEqual(['described', 'disk_usage']);
      expect(await q('%')).toEqual(['cpu 100%']);
      expect(await q('100%')).toEqual(['cpu 100%']);
      expect(await q('\\')).toEqual(['back\\slash']);
      expect(await q('usage')).toEqual(['described', 'diskXusage', 'disk_usage']);
      expect(await q('nothing')).toEqual([]);
    });

    it('list() filters by group, enabled and the newest run status, with total and paging', async () => {
      const a = await jobs.create(job('a', { group: 'g1', enabled: true }), T);
      const b = await jobs.create(job('b', { group: 'g1', enabled: false }), T);
      const c = await jobs.create(job('c', { group: 'g2', enabled: true }), T);
      const d = await jobs.create(job('d', { group: 'g2', enabled: true }), T);
      const names = (r: { items: { name: string }[] }) => r.items.map((j) => j.name);

      expect(names(await reads.listJobs({ limit: 50, offset: 0, group: 'g1' }))).toEqual(['a', 'b']);
      expect(names(await reads.listJobs({ limit: 50, offset: 0, enabled: false }))).toEqual(['b']);
      expect(names(await reads.listJobs({ limit: 50, offset: 0, enabled: true }))).toEqual(['a', 'c', 'd']);
      expect(names(await reads.listJobs({ limit: 50, offset: 0, group: 'g2', enabled: false }))).toEqual([]);
      const page = await reads.listJobs({ limit: 2, offset: 1 });
      expect(names(page)).toEqual(['b', 'c']);
      expect(page.total).toBe(4);

      // a: succeeded then failed (newest failed); b: failed then succeeded; c: running; d: no runs.
      const finish = async (jobId: number, key: string, status: 'succeeded' | 'failed') => {
        const r = (await runs1.claim(run(jobId, key), T))!;
        await markRunning(batch1, r, 'e', 'x', T);
        await runs1.finish(r.id, { status, finishedAt: T + 1 });
      };
      await finish(a.id, '1', 'succeeded');
      await finish(a.id, '2', 'failed');
      await finish(b.id, '1', 'failed');
      await finish(b.id, '2', 'succeeded');
      const cr = (await runs1.claim(run(c.id, '1'), T))!;
      await markRunning(batch1, cr, 'e', 'x', T);

      expect(names(await reads.listJobs({ limit: 50, offset: 0, lastStatus: 'failed' }))).toEqual(['a']);
      expect(names(await reads.listJobs({ limit: 50, offset: 0, lastStatus: 'succeeded' }))).toEqual(['b']);
      expect(names(await reads.listJobs({ limit: 50, offset: 0, lastStatus: 'running' }))).toEqual(['c']);
      const failedInG1 = await reads.listJobs({ limit: 50, offset: 0, lastStatus: 'failed', group: 'g1' });
      expect(names(failedInG1)).toEqual(['a']);
      expect(failedInG1.total).toBe(1);
      expect((await reads.listJobs({ limit: 50, offset: 0, lastStatus: 'pending' })).total).toBe(0);
      expect(d.id).toEqual(expect.any(Number));
    });

    it('findEnabledPage() pages through enabled jobs, mapped exactly like the entity', async () => {
      const created: Awaited<ReturnType<JobsRepository['create']>>[] = [];
      for (let i = 0; i < 5; i++) created.push(await jobs.create(job(`p${i}`, { enabled: i !== 2 }), T));
      await jobs.advanceCursor(created[0].id, T + 5000, T + 6000);
      const first = await jobs.findEnabledPage(0, 2);
      const second = await jobs.findEnabledPage(first[1].id, 2);
      expect([...first, ...second].map((j) => j.id)).toEqual([0, 1, 3, 4].map((i) => created[i].id));
      expect(await jobs.findEnabledPage(second[1].id, 2)).toEqual([]);
      // Same values and types as TypeORM's own hydration.
      const viaEntity = await jobs.findById(created[0].id);
      expect({ ...first[0] }).toEqual({ ...viaEntity });
      expect(
        new Map((await jobs.findChangedAfter({ at: 0, id: 0 }, null, 1000)).map((j) => [j.id, j.version])),
      ).toEqual(new Map(created.map((j) => [j.id, 1])));
    });

    it('delete() removes a job once; findEnabledPage() no longer lists it', async () => {
      const a = await jobs.create(job('a'), T);
      await jobs.create(job('b', { enabled: false }), T);
      const c = await jobs.create(job('c'), T);
      expect((await jobs.findEnabledPage(0, 10)).map((j) => j.id)).toEqual([a.id, c.id]);
      expect(await jobs.delete(a.id)).toBe(true);
      expect(await jobs.findById(a.id)).toBeNull();
      expect(await jobs.delete(a.id)).toBe(false);
      expect((await jobs.findEnabledPage(0, 10)).map((j) => j.id)).toEqual([c.id]);
    });
  });

  describe('RunsRepository queries', () => {
    it('list() is newest first with a total, filtered by job and status', async () => {
      const claimed: LedgerKey[] = [];
      for (let i = 0; i < 5; i++) claimed.push((await runs1.claim(run(1, `t${i}`), T + i))!);
      const ids = claimed.map((r) => r.id);
      await runs1.claim(run(2, 't0'), T);
      await markRunning(batch1, claimed[1], 'e', 'a', T);

      const page1 = await reads.listRuns({ jobId: 1, limit: 2, offset: 0 });
      expect(page1.items.map((r) => r.id)).toEqual([ids[4], ids[3]]);
      expect(page1.total).toBe(5);
      const page3 = await reads.listRuns({ jobId: 1, limit: 2, offset: 4 });
      expect(page3.items.map((r) => r.id)).toEqual([ids[0]]);
      expect((await reads.listRuns({ limit: 100, offset: 0 })).total).toBe(6);
      const running = await reads.listRuns({ jobId: 1, status: 'running', limit: 10, offset: 0 });
      expect(running).toMatchObject({ total: 1, items: [{ id: ids[1] }] });
    });

    it('lastRuns() gives each job’s newest run', async () => {
      await runs1.claim(run(1, 'a'), T);
      const newest1 = (await runs1.claim(run(1, 'b', { scheduledAt: T + 1 }), T))!;
      await runs1.claim(run(2, 'a'), T);
      const newest2 = (await runs1.claim(run(2, 'b', { status: 'skipped', scheduledAt: T + 2 }), T))!;
      await runs1.claim(run(3, 'a'), T); // not asked for
      const last = await reads.lastRuns([1, 2, 99]);
      expect(last).toEqual(
        new Map([
          [1, { id: newest1.id, status: 'pending', scheduledAt: T + 1 }],
          [2, { id: newest2.id, status: 'skipped', scheduledAt: T + 2 }],
        ]),
      );
      expect(await reads.lastRuns([])).toEqual(new Map());
    });

    it('findOfferableFor() gives pending runs due by now, oldest first, up to the limit (and after afterId)', async () => {
      const due1 = (await runs1.claim(run(1, 'a', { notBefore: T - 10 }), T))!;
      const later = (await runs1.claim(run(1, 'b', { notBefore: T + 1 }), T))!;
      const due2 = (await runs1.claim(run(1, 'c', { notBefore: T }), T))!;
      const running = (await runs1.claim(run(1, 'd', { notBefore: T - 10 }), T))!;
      await markRunning(batch1, running, 'e', 'a', T);
      await runs1.claim(run(1, 'e', { status: 'skipped', notBefore: T - 10 }), T);
      const due3 = (await runs1.claim(run(1, 'f'), T - 5))!; // notBefore defaults to the claim's now

      expect((await runs1.findOfferableFor('default', T, 0, 10)).map((r) => r.id)).toEqual([due1.id, due2.id, due3.id]);
      expect((await runs1.findOfferableFor('default', T, 0, 2)).map((r) => r.id)).toEqual([due1.id, due2.id]);
      expect((await runs1.findOfferableFor('default', T + 1, 0, 10)).map((r) => r.id)).toEqual([
        due1.id,
        later.id,
        due2.id,
        due3.id,
      ]);
      expect(await runs1.findOfferableFor('default', T - 100, 0, 10)).toEqual([]);
      expect((await runs1.findOfferableFor('default', T, due1.id, 10)).map((r) => r.id)).toEqual([due2.id, due3.id]);
    });

    it('findExpiredPending() gives pending runs past their deadline', async () => {
      const expired = (await runs1.claim(run(1, 'a', { deadlineAt: T - 1 }), T))!;
      await runs1.claim(run(1, 'b', { deadlineAt: T }), T); // deadline == now: not yet expired
      await runs1.claim(run(1, 'c', { deadlineAt: T + 1000 }), T);
      const runningPast = (await runs1.claim(run(1, 'd', { deadlineAt: T - 1 }), T))!;
      await markRunning(batch1, runningPast, 'e', 'a', T);
      expect((await runs1.findExpiredPending(T, 10)).map((r) => r.id)).toEqual([expired.id]);
      expect((await runs1.findExpiredPending(T + 1, 10)).map((r) => r.tickKey)).toEqual(['a', 'b']);
      expect((await runs1.findExpiredPending(T + 1, 1)).map((r) => r.tickKey)).toEqual(['a']);
    });

    it('countByStatus() counts every status present', async () => {
      expect(await reads.countByStatus()).toEqual(new Map());
      for (const key of ['a', 'b', 'c']) await runs1.claim(run(1, key), T);
      await runs1.claim(run(1, 'd', { status: 'skipped' }), T);
      const r = (await runs1.claim(run(1, 'e'), T))!;
      await markRunning(batch1, r, 'e', 'a', T);
      const f = (await runs1.claim(run(1, 'f'), T))!;
      await markRunning(batch1, f, 'e', 'a', T);
      await runs1.finish(f.id, { status: 'failed', finishedAt: T + 1 });
      expect(await new ApiReads(ds2).countByStatus()).toEqual(
        new Map([
          ['pending', 3],
          ['skipped', 1],
          ['running', 1],
          ['failed', 1],
        ]),
      );
    });

    it('findActive(), findStatuses() and findRunningOn()', async () => {
      const p = (await runs1.claim(run(1, 'p'), T))!;
      const r = (await runs1.claim(run(1, 'r'), T))!;
      await markRunning(batch1, r, 'exec-1', 'a', T);
      const r2 = (await runs1.claim(run(2, 'r'), T))!;
      await markRunning(batch1, r2, 'exec-2', 'b', T);
      const s = (await runs1.claim(run(1, 's', { status: 'skipped' }), T))!;
      expect((await runs1.findActive(1)).map((x) => x.id)).toEqual([p.id, r.id]);
      const statuses = await runs1.findStatuses([p.id, r.id, s.id]);
      expect(new Map(statuses.map((x) => [x.id, x.status]))).toEqual(
        new Map([
          [p.id, 'pending'],
          [r.id, 'running'],
          [s.id, 'skipped'],
        ]),
      );
      expect((await runs1.findRunningOn(['exec-1'])).map((x) => x.id)).toEqual([r.id]);
      expect((await runs1.findRunningOn(null)).map((x) => x.id).sort((x, y) => x - y)).toEqual([r.id, r2.id]);
    });
  });

  if (dialect.name === 'sqlite') {
    describe('a second connection holding the write lock', () => {
      it('claim() waits for it asynchronously (retryBusy) without freezing the event loop', async () => {
        const raw = new Database(config.path);
        try {
          raw.exec('BEGIN IMMEDIATE');
          raw
            .prepare(
              `INSERT INTO runs (job_id, tick_key, attempt, executor_key, scheduled_at, "trigger", status, not_before,
               deadline_at, output_truncated, created_at, updated_at)
             VALUES (5, 'other', 1, '', ?, 'schedule', 'pending', ?, ?, 0, ?, ?)`,
            )
            .run(T, T, T + 60_000, T, T);

          const ticks: number[] = [];
          const ticker = setInterval(() => ticks.push(Date.now()), 5);
          let releasedAt = 0;
          const started = Date.now();
          const release = setTimeout(() => {
            raw.exec('COMMIT');
            releasedAt = Date.now();
          }, 300);
          let claimed;
          try {
            claimed = await runs1.claim(run(5, 'mine'), T);
          } finally {
            clearInterval(ticker);
            clearTimeout(release);
          }
          const finished = Date.now();

          expect(claimed).toMatchObject({ jobId: 5, tickKey: 'mine' });
          // It did wait for the other writer: the lock was released before the claim completed.
          expect(releasedAt).toBeGreaterThan(0);
          expect(finished).toBeGreaterThanOrEqual(releasedAt);
          expect(finished - started).toBeGreaterThanOrEqual(290);
          // The event loop kept turning during the wait: timers fired, and no single stall lasted the whole wait.
          const during = ticks.filter((t) => t < releasedAt);
          expect(during.length).toBeGreaterThanOrEqual(2);
          const marks = [started, ...during, releasedAt];
          const longestStall = Math.max(...marks.slice(1).map((t, i) => t - marks[i]));
          expect(longestStall).toBeLessThan(250);
          // Both writes are there.
          expect(await count(`SELECT COUNT(*) AS n FROM runs WHERE job_id = 5`)).toBe(2);
          expect(await countRuns(5, 'mine')).toBe(1);
        } finally {
          if (raw.inTransaction) raw.exec('ROLLBACK');
          raw.close();
        }
      });
    });
  }
});
