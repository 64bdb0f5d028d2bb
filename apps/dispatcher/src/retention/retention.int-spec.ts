// Ledger retention (issue 14, item 1) on both real dialects: what a pass deletes and what it keeps, and one pass at
// a time among dispatchers through the real Redis lock.
import { DataSource } from 'typeorm';
import type { AppConfig, RetentionConfig } from '@app/config';
import { InProcessLock, RedisTickLock, TickLock } from '@app/locking';
import {
  dataSourceOptions,
  JobsRepository,
  migrate,
  NewJob,
  PRUNE_ROWS_PER_STATEMENT,
  RetentionRepository,
  RunLinksRepository,
} from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { testServices, uniquePrefix } from '../../../../test/support/services';
import type { Timers } from '../common/timers.service';
import { waitFor } from '../../../../test/support/wait';
import { PRUNE_MIN_AGE_MS, Retention } from './retention.service';

const NOW = 1_800_000_000_000;
const DAY = 86_400_000;
const OLD = NOW - PRUNE_MIN_AGE_MS - 60_000;
const noTimers = { every: () => undefined, clearInterval: () => undefined } as unknown as Timers;

function job(name: string): NewJob {
  return {
    name,
    description: '',
    cron: '* * * * * *',
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
    scheduleSetAt: NOW - 100 * DAY,
    lastTickAt: 0,
    nextRunAt: null,
  };
}

interface Row {
  status?: string;
  updatedAt?: number;
  output?: string | null;
}

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'retention on $dialect.name',
  ({ dialect }) => {
    let ds: DataSource;
    let jobs: JobsRepository;
    let repo: RetentionRepository;
    let tick = 0;

    const q = (c: string) => (dialect.name === 'mysql' ? `\`${c}\`` : `"${c}"`);

    /** Inserts the job's runs, oldest first, in one statement per 200; answers their ids. */
    async function insertRuns(jobId: number, rows: Row[]): Promise<number[]> {
      const cols = [
        'job_id',
        'tick_key',
        'attempt',
        'executor_key',
        'scheduled_at',
        'trigger',
        'status',
        'not_before',
        'deadline_at',
        'output',
        'output_truncated',
        'created_at',
        'updated_at',
      ];
      for (let i = 0; i < rows.length; i += 200) {
        const chunk = rows.slice(i, i + 200);
        const values: unknown[] = [];
        for (const r of chunk) {
          const at = r.updatedAt ?? OLD;
          values.push(
            jobId,
            `t${++tick}`,
            1,
            '',
            at,
            'schedule',
            r.status ?? 'succeeded',
            at,
            at + 1000,
            r.output === undefined ? 'out' : r.output,
            0,
            at,
            at,
          );
        }
        const tuple = `(${cols.map(() => '?').join(',')})`;
        await ds.query(
          `INSERT INTO runs (${cols.map(q).join(',')}) VALUES ${chunk.map(() => tuple).join(',')}`,
          values,
        );
      }
      const ids = await ds.query<{ id: number | string }[]>(`SELECT id FROM runs WHERE job_id = ? ORDER BY id`, [
        jobId,
      ]);
      return ids.map((r) => Number(r.id)).slice(-rows.length);
    }

    const idsOf = async (jobId: number) =>
      (await ds.query<{ id: number | string }[]>(`SELECT id FROM runs WHERE job_id = ? ORDER BY id`, [jobId])).map(
        (r) => Number(r.id),
      );
    const withOutput = async (jobId: number) =>
      (
        await ds.query<{ id: number | string }[]>(
          `SELECT id FROM runs WHERE job_id = ? AND output IS NOT NULL ORDER BY id`,
          [jobId],
        )
      ).map((r) => Number(r.id));

    function retention(limits: Partial<RetentionConfig>, lock: TickLock = new InProcessLock(), prefix = 'gocron') {
      const config = {
        redis: { url: '', prefix },
        retention: { maxRunsPerJob: 0, maxAgeDays: 0, keepOutputRuns: 0, intervalSeconds: 60, ...limits },
      } as AppConfig;
      return new Retention(repo, new RunLinksRepository(ds), noTimers, lock, config);
    }

    beforeAll(async () => {
      ds = new DataSource(dataSourceOptions(await dialect.fresh()));
      await ds.initialize();
      await migrate(ds);
      jobs = new JobsRepository(ds);
      repo = new RetentionRepository(ds);
    });

    afterAll(async () => {
      await ds?.destroy();
      await dialect.cleanup();
    });

    // Each test on a ledger of its own runs only (a new Retention reads the whole ledger on its first pass).
    beforeEach(() => ds.query('DELETE FROM runs'));

    it("keeps a job's newest max_runs_per_job runs, in bounded statements, never an active or recent run", async () => {
      const a = (await jobs.create(job('count-a'), NOW)).id;
      const b = (await jobs.create(job('count-b'), NOW)).id;
      const old = await insertRuns(
        a,
        Array.from({ length: 1200 }, () => ({})),
      );
      const active = await insertRuns(a, [{ status: 'running' }, { status: 'pending' }]);
      const recent = await insertRuns(a, [{ updatedAt: NOW - 1000 }]);
      const newest = await insertRuns(
        a,
        Array.from({ length: 10 }, () => ({})),
      );
      const small = await insertRuns(
        b,
        Array.from({ length: 5 }, () => ({})),
      );

      const r = retention({ maxRunsPerJob: 10 });
      const deletes = jest.spyOn(repo, 'deleteRuns');
      expect(await r.pass(NOW)).toEqual({ deleted: 1200, outputsCleared: 0 });
      const sizes = deletes.mock.calls.map(([ids]) => ids.length);
      expect(sizes).toEqual([PRUNE_ROWS_PER_STATEMENT, PRUNE_ROWS_PER_STATEMENT, 200]);
      deletes.mockRestore();
      expect(await idsOf(a)).toEqual([...active, ...recent, ...newest]);
      expect(await idsOf(b)).toEqual(small);
      // Nothing new: the next pass deletes nothing, until the recent run has aged (it was kept for later).
      expect(await r.pass(NOW + 1000)).toEqual({ deleted: 0, outputsCleared: 0 });
      expect(await r.pass(NOW + PRUNE_MIN_AGE_MS + 1000)).toEqual({ deleted: 1, outputsCleared: 0 });
      expect(await idsOf(a)).toEqual([...active, ...newest]);
      expect(old.length).toBe(1200);
    });

    it("clears the output of a job's runs beyond keep_output_runs, keeping their records", async () => {
      const a = (await jobs.create(job('output-a'), NOW)).id;
      const ids = await insertRuns(a, [...Array.from({ length: 7 }, () => ({})), { status: 'running' }, {}, {}, {}]);
      const r = retention({ keepOutputRuns: 3 });
      expect(await r.pass(NOW)).toEqual({ deleted: 0, outputsCleared: 7 });
      expect(await idsOf(a)).toEqual(ids);
      expect(await withOutput(a)).toEqual(ids.slice(7));
      await insertRuns(a, [{}, {}]);
      expect(await r.pass(NOW)).toEqual({ deleted: 0, outputsCleared: 2 });
    });

    it("deletes finished runs older than max_age_days but each job's latest, and all of a deleted job's", async () => {
      const a = (await jobs.create(job('age-a'), NOW)).id;
      const gone = (await jobs.create(job('age-gone'), NOW)).id;
      const ancient = NOW - 40 * DAY;
      const [oldA1, oldA2, oldPending] = await insertRuns(a, [
        { updatedAt: ancient },
        { updatedAt: ancient + 1 },
        { updatedAt: ancient + 2, status: 'pending' },
      ]);
      const [young] = await insertRuns(a, [{ updatedAt: NOW - 2 * DAY }]);
      await insertRuns(gone, [{ updatedAt: ancient }, { updatedAt: ancient + 5 }]);
      expect(await jobs.delete(gone, NOW)).toBe(true);
      // A job whose only runs are old keeps its latest.
      const quiet = (await jobs.create(job('age-quiet'), NOW)).id;
      const [, quietLatest] = await insertRuns(quiet, [{ updatedAt: ancient }, { updatedAt: ancient + 3 }]);

      const r = retention({ maxAgeDays: 30 });
      expect((await r.pass(NOW)).deleted).toBe(5);
      expect(await idsOf(a)).toEqual([oldPending, young]);
      expect(await idsOf(gone)).toEqual([]);
      expect(await idsOf(quiet)).toEqual([quietLatest]);
      expect([oldA1, oldA2]).toHaveLength(2);
    });

    it('deletes notifications that ended more than max_age_days ago, never a pending one', async () => {
      await ds.query('DELETE FROM notifications');
      const ancient = NOW - 40 * DAY;
      const rows: [string, number][] = [
        ['sent', ancient],
        ['failed', ancient + 1],
        ['pending', ancient + 2],
        ['sent', NOW - DAY],
      ];
      for (const [i, [status, updatedAt]] of rows.entries()) {
        await ds.query(
          `INSERT INTO notifications (run_id, job_id, event, channel, status, next_attempt_at, delivery_id, target,
             payload, created_at, updated_at) VALUES (?, 1, 'failed', 'webhook', ?, 0, ?, '{}', '{}', ?, ?)`,
          [i + 1, status, `00000000-0000-4000-8000-00000000000${i}`, updatedAt, updatedAt],
        );
      }
      expect((await retention({ maxAgeDays: 30 }).pass(NOW)).notificationsDeleted).toBe(2);
      const left = await ds.query<{ status: string }[]>('SELECT status FROM notifications ORDER BY run_id');
      expect(left.map((r) => r.status)).toEqual(['pending', 'sent']);
      // Off with max_age_days 0.
      expect((await retention({ maxRunsPerJob: 10 }).pass(NOW)).notificationsDeleted).toBeUndefined();
    });
  },
);

describe('retention among dispatchers', () => {
  const dialect = mysqlDialect();
  let ds: DataSource;
  const locks: RedisTickLock[] = [];

  afterAll(async () => {
    for (const l of locks) l.onApplicationShutdown();
    await ds?.destroy();
    await dialect.cleanup();
  });

  it('prunes on one dispatcher at a time (the Redis lock), and on another once the first is done', async () => {
    ds = new DataSource(dataSourceOptions(await dialect.fresh()));
    await ds.initialize();
    await migrate(ds);
    const repo = new RetentionRepository(ds);
    const jobId = (await new JobsRepository(ds).create(job('shared'), NOW)).id;
    const cols = `job_id, tick_key, attempt, executor_key, scheduled_at, \`trigger\`, status, not_before, deadline_at, created_at, updated_at`;
    const rows = Array.from({ length: 1500 }, (_, i) => [
      jobId,
      `k${i}`,
      1,
      '',
      OLD,
      'schedule',
      'succeeded',
      OLD,
      OLD,
      OLD,
      OLD,
    ]);
    await ds.query(
      `INSERT INTO runs (${cols}) VALUES ${rows.map(() => '(?,?,?,?,?,?,?,?,?,?,?)').join(',')}`,
      rows.flat(),
    );

    const prefix = uniquePrefix('retention');
    const make = async () => {
      const lock = new RedisTickLock(testServices().redisUrl);
      locks.push(lock);
      // Until it is connected the lock lets everyone through (the ledger is the fence): wait for it.
      await waitFor(async () => (await lock.health()).status === 'ok', { timeoutMs: 10_000, what: 'redis connected' });
      const config = {
        redis: { url: testServices().redisUrl, prefix },
        retention: { maxRunsPerJob: 100, maxAgeDays: 0, keepOutputRuns: 0, intervalSeconds: 60 },
      } as AppConfig;
      // Counts the statements each dispatcher sends.
      const calls = { n: 0 };
      const counted = new Proxy(repo, {
        get(target, key, receiver) {
          const value: unknown = Reflect.get(target, key, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            calls.n++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      return { retention: new Retention(counted, new RunLinksRepository(ds), noTimers, lock, config), calls };
    };
    const [one, two] = [await make(), await make()];
    const results = await Promise.all([one.retention.pass(NOW), two.retention.pass(NOW)]);
    expect(results.map((c) => c.deleted).sort((x, y) => x - y)).toEqual([0, 1400]);
    const [winner, loser] = results[0].deleted > 0 ? [one, two] : [two, one];
    expect(winner.calls.n).toBeGreaterThan(0);
    expect(loser.calls.n).toBe(0); // it did not get the lock, so it sent nothing
    // The lock is released after a pass: the other dispatcher's next pass runs.
    await ds.query(`INSERT INTO runs (${cols}) VALUES (?,?,?,?,?,?,?,?,?,?,?)`, [
      jobId,
      'extra',
      1,
      '',
      OLD,
      'schedule',
      'succeeded',
      OLD,
      OLD,
      OLD,
      OLD,
    ]);
    expect((await loser.retention.pass(NOW)).deleted).toBe(1);
    expect(loser.calls.n).toBeGreaterThan(0);
  });
});
