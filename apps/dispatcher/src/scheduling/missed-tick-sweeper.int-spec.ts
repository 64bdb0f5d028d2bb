import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { loadConfig } from '@app/config';
import { InProcessLock } from '@app/locking';
import {
  ApiReads,
  dataSourceOptions,
  JobsRepository,
  migrate,
  RunBatchRepository,
  RunsRepository,
} from '@app/persistence';
import { tmpDir } from '../../../../test/support/services';
import type { Timers } from '../common/timers.service';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import type { EventsService } from '../events/events.service';
import type { RunCanceller } from '../launching/run-canceller.service';
import type { RunLauncher } from '../launching/run-launcher.service';
import { JobCursors } from './job-cursors';
import { MissedTickSweeper } from './missed-tick-sweeper';
import { TickClaimer } from './tick-claimer';

describe('MissedTickSweeper (SQLite file)', () => {
  let ds: DataSource;
  let jobs: JobsRepository;
  let runs: RunsRepository;
  let sweeper: MissedTickSweeper;
  const events = { runChanged: jest.fn() } as unknown as EventsService;

  beforeAll(async () => {
    const config = loadConfig(join(__dirname, '../../../../conf/conf.ini'), {
      GOCRON_DATABASE_PATH: join(tmpDir('missed'), 'gocron.sqlite'),
    });
    ds = new DataSource(dataSourceOptions(config.database));
    await ds.initialize();
    await migrate(ds);
    jobs = new JobsRepository(ds);
    runs = new RunsRepository(ds);
    // The real claim pipeline and cursors on the real ledger; missed records are never offered, so the launcher,
    // canceller and pool are not reached.
    const claimer = new TickClaimer(
      new InProcessLock(),
      config,
      new RunBatchRepository(ds),
      runs,
      {} as RunLauncher,
      {} as RunCanceller,
      {} as ExecutorPool,
      events,
    );
    const timers = {} as Timers;
    sweeper = new MissedTickSweeper(jobs, runs, new JobCursors(jobs, runs, timers), claimer, timers, config);
    sweeper.watchSince = 0;
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  const job = (name: string, lastTickAt: number, nextRunAt: number) => ({
    name,
    description: '',
    cron: '0 * * * * *', // every minute
    timezone: 'UTC',
    type: 'shell' as const,
    command: 'true',
    env: {},
    http: null,
    timeoutMs: 1000,
    retries: 0,
    retryBackoffMs: 0,
    concurrency: 'allow' as const,
    misfire: 'once' as const,
    group: 'default',
    routing: 'round_robin' as const,
    enabled: true,
    scheduleSetAt: 0,
    lastTickAt,
    nextRunAt,
  });

  it('records each unclaimed tick older than the grace as missed, holes between claimed ticks too, once', async () => {
    const now = Date.parse('2026-06-01T12:10:30Z');
    const stuck = await jobs.create(
      job('stuck', Date.parse('2026-06-01T12:00:00Z'), Date.parse('2026-06-01T12:01:00Z')),
    );
    const healthy = await jobs.create(
      job('healthy', Date.parse('2026-06-01T12:10:00Z'), Date.parse('2026-06-01T12:11:00Z')),
    );
    // 12:03 of the stuck job was claimed (by a slow scheduler): not missed.
    await runs.claim({
      jobId: stuck.id,
      tickKey: String(Date.parse('2026-06-01T12:03:00Z') / 1000),
      attempt: 1,
      scheduledAt: Date.parse('2026-06-01T12:03:00Z'),
      trigger: 'schedule',
      status: 'pending',
      deadlineAt: now,
      dispatcherId: 'd',
    });
    expect(await sweeper.sweep(now)).toBe(7);
    const missed = (await new ApiReads(ds).listRuns({ limit: 50, offset: 0, jobId: stuck.id, status: 'missed' })).items;
    // From the job's first fire time 12:01 (its watermark) to now − 120 s = 12:08:30, but 12:03 (claimed): the
    // holes before the claimed tick and the ticks after it.
    expect(missed.map((r) => new Date(r.scheduledAt).toISOString().slice(11, 16)).sort()).toEqual([
      '12:01',
      '12:02',
      '12:04',
      '12:05',
      '12:06',
      '12:07',
      '12:08',
    ]);
    expect(missed[0].error).toMatch(/no dispatcher claimed this tick within 120 s/);
    expect((await new ApiReads(ds).listRuns({ limit: 50, offset: 0, jobId: healthy.id })).total).toBe(0);
    // The cursor moved: a second sweep records nothing new, and a scheduler claiming 12:05 finds the key taken.
    expect(await sweeper.sweep(now)).toBe(0);
    expect(
      await runs.claim({
        jobId: stuck.id,
        tickKey: String(Date.parse('2026-06-01T12:05:00Z') / 1000),
        attempt: 1,
        scheduledAt: Date.parse('2026-06-01T12:05:00Z'),
        trigger: 'schedule',
        status: 'pending',
        deadlineAt: now,
        dispatcherId: 'd',
      }),
    ).toBeNull();
  });

  it('takes the ticks inside a record of folded forbid skips as recorded, though their keys are free', async () => {
    const now = Date.parse('2026-06-01T12:10:30Z');
    const at = (hhmm: string) => Date.parse(`2026-06-01T${hhmm}:00Z`);
    const folding = await jobs.create({
      ...job('folding', at('12:00'), at('12:01')),
      concurrency: 'forbid' as const,
    });
    // 12:01 ran long; 12:02…12:06 were skipped behind it, folded into one record under 12:06's key; 12:07 ran.
    const row = (hhmm: string, over: object) => ({
      jobId: folding.id,
      tickKey: String(at(hhmm) / 1000),
      attempt: 1,
      scheduledAt: at(hhmm),
      trigger: 'schedule' as const,
      status: 'pending' as const,
      deadlineAt: now,
      dispatcherId: 'd',
      ...over,
    });
    await new RunBatchRepository(ds).claimMany(
      [
        row('12:01', {}),
        row('12:06', { status: 'skipped', skippedCount: 5, skippedFrom: at('12:02'), error: 'run of 12:01' }),
        row('12:07', {}),
      ],
      now,
    );
    expect(await sweeper.sweep(now)).toBe(1);
    const missed = (await new ApiReads(ds).listRuns({ limit: 50, offset: 0, jobId: folding.id, status: 'missed' }))
      .items;
    expect(missed.map((r) => new Date(r.scheduledAt).toISOString().slice(11, 16))).toEqual(['12:08']);
  });

  it('lets go of the watermark of a job whose schedule no longer parses, so it can not hold up the sweeps', async () => {
    const now = Date.parse('2026-06-01T12:10:30Z');
    const broken = await jobs.create(
      job('broken', Date.parse('2026-06-01T11:00:00Z'), Date.parse('2026-06-01T11:01:00Z')),
    );
    await ds.query(`UPDATE jobs SET cron = 'not a schedule' WHERE id = ?`, [broken.id]);
    expect(await sweeper.sweep(now)).toBe(0);
    const [row] = await ds.query<{ verify_from: number | null }[]>(`SELECT verify_from FROM jobs WHERE id = ?`, [
      broken.id,
    ]);
    expect(row.verify_from).toBeNull();
  });

  it('records no missed tick of a job without a cron (its parents start it), and lets go of its watermark', async () => {
    const now = Date.parse('2026-06-01T12:10:30Z');
    const parent = await jobs.create(
      job('dep-parent', Date.parse('2026-06-01T12:10:00Z'), Date.parse('2026-06-01T12:11:00Z')),
    );
    // A watermark left from when it had a cron (a row written around the API would look the same).
    const child = await jobs.create({
      ...job('dep-child', Date.parse('2026-06-01T11:00:00Z'), Date.parse('2026-06-01T11:01:00Z')),
      cron: '',
      dependsOn: [{ jobId: parent.id, on: 'success' }],
    });
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    expect(await sweeper.sweep(now)).toBe(0);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
    expect((await new ApiReads(ds).listRuns({ limit: 50, offset: 0, jobId: child.id })).total).toBe(0);
    const [row] = await ds.query<{ verify_from: number | null }[]>(`SELECT verify_from FROM jobs WHERE id = ?`, [
      child.id,
    ]);
    expect(row.verify_from).toBeNull();
  });
});
