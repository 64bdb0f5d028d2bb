// Ids past 2^31 on MariaDB (issue 10): broadcast claims, retries and missed records go on across the 32-bit limit,
// and the API finds them.
import { DataSource } from 'typeorm';
import type { AppConfig } from '@app/config';
import { InProcessLock } from '@app/locking';
import {
  ApiReads,
  dataSourceOptions,
  JobsRepository,
  migrate,
  NewJob,
  retryPolicyOf,
  RunBatchRepository,
  RunsRepository,
} from '@app/persistence';
import { mysqlDialect } from '../../../../test/support/ledger-dialects';
import type { Timers } from '../common/timers.service';
import type { EventsService } from '../events/events.service';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import type { RunCanceller } from '../launching/run-canceller.service';
import type { RunLauncher } from '../launching/run-launcher.service';
import { JobCursors } from './job-cursors';
import { MissedTickSweeper } from './missed-tick-sweeper';
import { TickClaimer } from './tick-claimer';

const INT_MAX = 2 ** 31 - 1;

describe('ids past 2^31 (MariaDB)', () => {
  const dialect = mysqlDialect();
  let ds: DataSource;
  let jobs: JobsRepository;
  let runs: RunsRepository;
  let batch: RunBatchRepository;
  let claimer: TickClaimer;
  let sweeper: MissedTickSweeper;
  const offered: number[] = [];

  beforeAll(async () => {
    const db = await dialect.fresh();
    ds = new DataSource(dataSourceOptions(db));
    await ds.initialize();
    await migrate(ds);
    // Two ids left below the 32-bit limit: the next claims cross it.
    await ds.query(`ALTER TABLE runs AUTO_INCREMENT = ${INT_MAX - 1}`);
    jobs = new JobsRepository(ds);
    runs = new RunsRepository(ds);
    batch = new RunBatchRepository(ds);
    const config = {
      redis: { prefix: 'wide-ids' },
      dispatcher: { id: 'disp-1', misfireThresholdSeconds: 30, missedGraceSeconds: 120 },
    } as AppConfig;
    const executors = ['10.0.0.1:50051', '10.0.0.2:50051', '10.0.0.3:50051'].map((address) => ({ address }));
    const pool = { broadcastTargets: () => executors } as unknown as ExecutorPool;
    const launcher = {
      offer: (list: { run: { id: number } }[]) => {
        offered.push(...list.map((o) => o.run.id));
        return Promise.resolve();
      },
    } as unknown as RunLauncher;
    const events = { runChanged: () => undefined } as unknown as EventsService;
    claimer = new TickClaimer(new InProcessLock(), config, batch, runs, launcher, {} as RunCanceller, pool, events);
    const timers = {} as Timers;
    sweeper = new MissedTickSweeper(jobs, runs, new JobCursors(jobs, runs, timers), claimer, timers, config);
    sweeper.watchSince = 0;
  });

  afterAll(async () => {
    await ds?.destroy();
    await dialect.cleanup();
  });

  const job = (name: string, over: Partial<NewJob> = {}): NewJob => ({
    name,
    description: '',
    cron: '0 * * * * *',
    timezone: 'UTC',
    type: 'shell',
    command: 'true',
    env: {},
    http: null,
    timeoutMs: 60_000,
    retries: 3,
    retryBackoffMs: 10,
    concurrency: 'allow',
    misfire: 'once',
    group: 'default',
    routing: 'round_robin',
    enabled: true,
    scheduleSetAt: 0,
    lastTickAt: 0,
    nextRunAt: null,
    ...over,
  });

  it('claims a broadcast tick, the retries of a failing run and missed ticks across the limit, and reads them back', async () => {
    const wide = await jobs.create(job('broadcast', { routing: 'broadcast' }));
    const at = Date.parse('2026-12-01T12:00:00Z');
    // A broadcast tick: one row per executor, in one INSERT, ids INT_MAX - 1, INT_MAX and INT_MAX + 1.
    expect(await claimer.claimTick(wide, at, 'schedule')).toEqual({ kind: 'claimed' });
    const broadcast = await ds.query<{ id: string; executor_key: string }[]>(
      `SELECT id, executor_key FROM runs WHERE job_id = ? ORDER BY id`,
      [wide.id],
    );
    expect(broadcast.map((r) => r.executor_key).sort()).toEqual(['10.0.0.1:50051', '10.0.0.2:50051', '10.0.0.3:50051']);
    expect(broadcast.map((r) => Number(r.id))).toEqual([INT_MAX - 1, INT_MAX, INT_MAX + 1]);
    expect(offered).toEqual(broadcast.map((r) => Number(r.id)));

    // A run that fails every attempt: each retry is claimed above the limit.
    const failing = await jobs.create(job('failing'));
    let run = (await runs.claim({
      jobId: failing.id,
      tickKey: 'manual:wide',
      attempt: 1,
      scheduledAt: at,
      trigger: 'manual',
      status: 'pending',
      deadlineAt: at + 60_000,
      dispatcherId: null,
    }))!;
    expect(run.id).toBe(INT_MAX + 2);
    const attempts = [run.id];
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect((await batch.markRunningMany([run], 'exec-1', '10.0.0.1:50051', at + attempt)).started).toEqual(
        new Set([run.id]),
      );
      const { finished, retry } = await runs.finishWithRetry(
        run,
        { status: 'failed', finishedAt: at + attempt * 100, exitCode: 1 },
        retryPolicyOf(failing),
      );
      expect(finished).toBe(true);
      expect(retry).not.toBeNull();
      expect(typeof retry!.id).toBe('number');
      run = retry!;
      attempts.push(run.id);
    }
    expect(attempts).toEqual([INT_MAX + 2, INT_MAX + 3, INT_MAX + 4, INT_MAX + 5]);

    // Missed ticks, recorded by the sweeper through the claim pipeline.
    const stuck = await jobs.create(
      job('stuck', { lastTickAt: Date.parse('2026-12-01T12:00:00Z'), nextRunAt: Date.parse('2026-12-01T12:01:00Z') }),
    );
    expect(await sweeper.sweep(Date.parse('2026-12-01T12:05:30Z'))).toBe(3); // 12:01, 12:02, 12:03
    const missed = await ds.query<{ id: string }[]>(`SELECT id FROM runs WHERE job_id = ? AND status = 'missed'`, [
      stuck.id,
    ]);
    expect(missed.map((r) => Number(r.id)).every((id) => id > INT_MAX + 5)).toBe(true);
    expect(missed).toHaveLength(3);

    // The API reads them, by id and by keyset page.
    const reads = new ApiReads(ds);
    expect(await reads.findRun(INT_MAX + 5)).toMatchObject({ id: INT_MAX + 5, attempt: 4, jobId: failing.id });
    const page = await reads.listRuns({ limit: 2, offset: 0, beforeId: INT_MAX + 3 });
    expect(page.items.map((r) => r.id)).toEqual([INT_MAX + 2, INT_MAX + 1]);
    expect(page.items.every((r) => typeof r.id === 'number' && typeof r.jobId === 'number')).toBe(true);
  });
});
