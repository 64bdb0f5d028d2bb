// The retry repair on both real ledgers (issue 11, item 7): a run that ended retryable with retries left and no next
// attempt (what a crash between the two writes of an older build, or any write of the result alone, leaves behind)
// gets its retry from the next repair pass, once; runs owed no retry are left alone; the reads stay bounded.
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '@app/config';
import { dataSourceOptions, JobsRepository, migrate, NewJob, RunsRepository, RunStatus } from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { rowsTouched, withOneConnection } from '../../../../test/support/rows-touched';
import type { EventsService } from '../events/events.service';
import { RETRY_REPAIR_LOOKBACK_MS, RetryRepair } from './retry-repair';

const NOW = Date.parse('2026-11-01T12:00:00Z');

function job(name: string, over: Partial<NewJob> = {}): NewJob {
  return {
    name,
    description: '',
    cron: '0 0 1 1 *',
    timezone: 'UTC',
    type: 'shell',
    command: 'false',
    env: {},
    http: null,
    timeoutMs: 5000,
    retries: 2,
    retryBackoffMs: 1000,
    concurrency: 'allow',
    misfire: 'skip',
    group: 'default',
    routing: 'round_robin',
    enabled: true,
    scheduleSetAt: NOW - 3_600_000,
    lastTickAt: 0,
    nextRunAt: null,
    ...over,
  };
}

interface Row {
  jobId: number;
  tickKey: string;
  attempt?: number;
  status: RunStatus;
  /** When its final status was written (finished_at and updated_at). */
  endedAt: number;
  started?: boolean;
}

describe.each([{ dialect: sqliteDialect() }, { dialect: mysqlDialect() }])(
  'RetryRepair on $dialect.name',
  ({ dialect }) => {
    let config: DatabaseConfig;
    let ds: DataSource;
    let runs: RunsRepository;
    let jobs: JobsRepository;
    const events = { runChanged: jest.fn() } as unknown as EventsService;

    /** Writes a run as a crashed writer (or anything else) left it, straight into the table. */
    async function insert(rows: Row[], into = ds): Promise<void> {
      const one = `(?, ?, ?, '', ?, 'schedule', ?, ?, ?, ?, ?, ?, 0, ?, ?)`;
      const values: unknown[] = [];
      for (const r of rows) {
        const scheduledAt = r.endedAt - 10_000;
        values.push(
          r.jobId,
          r.tickKey,
          r.attempt ?? 1,
          scheduledAt,
          r.status,
          scheduledAt,
          scheduledAt + 5000,
          r.started === false ? null : scheduledAt + 10,
          r.endedAt,
          r.started === false ? null : r.endedAt - scheduledAt - 10,
          scheduledAt,
          r.endedAt,
        );
      }
      await into.query(
        'INSERT INTO runs (job_id, tick_key, attempt, executor_key, scheduled_at, `trigger`, status, not_before, ' +
          'deadline_at, started_at, finished_at, duration_ms, output_truncated, created_at, updated_at) VALUES ' +
          rows.map(() => one).join(', '),
        values,
      );
    }

    const attempts = async (jobId: number, tickKey: string) =>
      (
        await ds.query<{ attempt: number; status: string; trigger: string }[]>(
          'SELECT attempt, status, `trigger` FROM runs WHERE job_id = ? AND tick_key = ? ORDER BY attempt',
          [jobId, tickKey],
        )
      ).map((r) => [Number(r.attempt), r.status, r.trigger]);

    beforeAll(async () => {
      config = await dialect.fresh();
      ds = new DataSource(dataSourceOptions(config));
      await ds.initialize();
      await migrate(ds);
      runs = new RunsRepository(ds);
      jobs = new JobsRepository(ds);
    });

    beforeEach(async () => {
      await ds.query('DELETE FROM runs');
      await ds.query('DELETE FROM jobs');
    });

    afterAll(async () => {
      await ds?.destroy();
      await dialect.cleanup();
    });

    it('gives a run that failed with retries left and no next attempt its retry, once', async () => {
      const j = await jobs.create(job('crashed'), NOW - 3_600_000);
      // Failed 20 s ago; the writer died before it claimed attempt 2.
      await insert([{ jobId: j.id, tickKey: 'crash', status: 'failed', endedAt: NOW - 20_000 }]);
      const repair = new RetryRepair(runs, jobs, events, NOW - 60_000);

      await repair.pass(NOW);

      expect(await attempts(j.id, 'crash')).toEqual([
        [1, 'failed', 'schedule'],
        [2, 'pending', 'retry'],
      ]);
      const retry = (await runs.findAttempt({ jobId: j.id, tickKey: 'crash', executorKey: '' }, 2))!;
      // Its back-off (1 s after the failure) has passed: offered at once, with the job's whole timeout to be taken.
      expect(retry).toMatchObject({ notBefore: NOW, deadlineAt: NOW + 5000, dispatcherId: null });
      // A later pass, or another dispatcher's repair reading the same rows, claims no second one.
      await repair.pass(NOW + 1000);
      await new RetryRepair(runs, jobs, events, NOW - 60_000).pass(NOW + 1000);
      expect(await attempts(j.id, 'crash')).toHaveLength(2);
    });

    it('finds a run from before it started within its look-back, caught up in a few passes, and a new one once settled', async () => {
      const j = await jobs.create(job('late'), NOW - 3_600_000);
      // Started at NOW, with its look-back.
      const repair = new RetryRepair(runs, jobs, events, NOW - RETRY_REPAIR_LOOKBACK_MS);
      // Ended before the dispatcher started, inside its look-back and before it; and one just now.
      await insert([
        { jobId: j.id, tickKey: 'before-start', status: 'lost', endedAt: NOW - RETRY_REPAIR_LOOKBACK_MS / 2 },
        { jobId: j.id, tickKey: 'fresh', status: 'timed_out', endedAt: NOW + 1000 },
        { jobId: j.id, tickKey: 'too-old', status: 'failed', endedAt: NOW - 2 * RETRY_REPAIR_LOOKBACK_MS },
      ]);
      // The look-back is caught up within a few passes; the fresh run is read once it has settled (10 s).
      await repair.pass(NOW + 1000);
      await repair.pass(NOW + 3000);
      await repair.pass(NOW + 5000);
      expect(await attempts(j.id, 'before-start')).toHaveLength(2);
      expect(await attempts(j.id, 'fresh')).toHaveLength(1);
      for (let t = NOW + 7000; t <= NOW + 15_000; t += 2000) await repair.pass(t);
      expect(await attempts(j.id, 'fresh')).toHaveLength(2);
      expect(await attempts(j.id, 'too-old')).toHaveLength(1);
    });

    it('leaves alone every run that is owed no retry', async () => {
      const j = await jobs.create(job('owed-nothing'), NOW - 3_600_000);
      const none = await jobs.create(job('no-retries', { retries: 0 }), NOW - 3_600_000);
      const changed = await jobs.create(job('changed-since'), NOW - 3_600_000);
      const deleted = await jobs.create(job('deleted'), NOW - 3_600_000);
      const at = NOW - 20_000;
      await insert([
        { jobId: j.id, tickKey: 'ok', status: 'succeeded', endedAt: at },
        { jobId: j.id, tickKey: 'cancelled', status: 'cancelled', endedAt: at },
        // Expired while pending, or refused before it started: never ran, so never retried.
        { jobId: j.id, tickKey: 'expired', status: 'failed', endedAt: at, started: false },
        // The last attempt the job allows.
        { jobId: j.id, tickKey: 'spent', attempt: 3, status: 'lost', endedAt: at },
        // Its retry is there.
        { jobId: j.id, tickKey: 'retried', status: 'failed', endedAt: at },
        { jobId: j.id, tickKey: 'retried', attempt: 2, status: 'pending', endedAt: at },
        { jobId: none.id, tickKey: 'x', status: 'failed', endedAt: at },
        { jobId: changed.id, tickKey: 'x', status: 'failed', endedAt: at },
        { jobId: deleted.id, tickKey: 'x', status: 'failed', endedAt: at },
      ]);
      // The job's policy may have changed after the run ended: the run was owed the policy it ran under.
      await ds.query('UPDATE jobs SET retries = 5, updated_at = ? WHERE id = ?', [at + 1, changed.id]);
      await ds.query('DELETE FROM jobs WHERE id = ?', [deleted.id]);
      const before = Number((await ds.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM runs'))[0].n);

      await new RetryRepair(runs, jobs, events, NOW - 60_000).pass(NOW);

      expect(Number((await ds.query<{ n: number }[]>('SELECT COUNT(*) AS n FROM runs'))[0].n)).toBe(before);
    });

    it('keeps up with a storm of failures of jobs without retries, and still finds the one run owed a retry', async () => {
      const none = await jobs.create(job('storm', { retries: 0 }), NOW - 3_600_000);
      const owed = await jobs.create(job('owed-in-storm'), NOW - 3_600_000);
      // 3,000 failures in the last minute (more than a pass's pages), among them one run owed a retry, last.
      const storm: Row[] = Array.from({ length: 3000 }, (_, i) => ({
        jobId: none.id,
        tickKey: `s${i}`,
        status: 'failed',
        endedAt: NOW - 50_000 + i,
      }));
      for (let i = 0; i < storm.length; i += 1000) await insert(storm.slice(i, i + 1000));
      await insert([{ jobId: owed.id, tickKey: 'x', status: 'failed', endedAt: NOW - 40_000 }]);

      await new RetryRepair(runs, jobs, events, NOW - 60_000).pass(NOW);

      expect((await attempts(owed.id, 'x')).map(([attempt]) => attempt)).toEqual([1, 2]);
    });

    if (dialect.name === 'mysql') {
      it('reads the rows that changed in its window, not the history', async () => {
        const j = await jobs.create(job('history'), NOW - 3_600_000);
        // 20,000 runs that failed (with their retries lost, even) long before the window, then one in it.
        const old: Row[] = Array.from({ length: 20_000 }, (_, i) => ({
          jobId: j.id,
          tickKey: `h${i}`,
          status: 'failed',
          endedAt: NOW - 3 * 3_600_000 + i,
        }));
        for (let i = 0; i < old.length; i += 1000) await insert(old.slice(i, i + 1000));
        await insert([{ jobId: j.id, tickKey: 'now', status: 'failed', endedAt: NOW - 20_000 }]);
        await ds.query('ANALYZE TABLE runs');
        const touched = await withOneConnection(config, (one) => {
          const repair = new RetryRepair(new RunsRepository(one), new JobsRepository(one), events, NOW - 60_000);
          return rowsTouched(one, () => repair.pass(NOW));
        });
        expect(touched).toBeLessThan(100);
        expect(await attempts(j.id, 'now')).toHaveLength(2);
        expect(await attempts(j.id, 'h0')).toHaveLength(1);
      });
    }
  },
);
