import { Logger } from '@nestjs/common';
import { shardOf } from '@app/common';
import type { AppConfig } from '@app/config';
import type { JobEntity, JobsRepository, RunsRepository } from '@app/persistence';
import type { Timers } from '../common/timers.service';
import type { EventsService } from '../events/events.service';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import type { JobChangeBus } from './job-change-bus';
import { JobCursors } from './job-cursors';
import { SchedulerService } from './scheduler.service';
import type { ShardChange, ShardOwnership } from '../cluster/shard-ownership.service';
import type { TickAnswer, TickClaimer } from './tick-claimer';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);

function job(id: number, over: Partial<JobEntity> = {}): JobEntity {
  return {
    id,
    name: `job-${id}`,
    description: '',
    cron: '* * * * * *',
    timezone: 'UTC',
    type: 'shell',
    command: 'true',
    env: {},
    http: null,
    timeoutMs: 60_000,
    retries: 0,
    retryBackoffMs: 1000,
    concurrency: 'allow',
    misfire: 'once',
    group: 'default',
    routing: 'round_robin',
    enabled: true,
    scheduleSetAt: T0 - 60_000,
    lastTickAt: T0,
    nextRunAt: null,
    verifyFrom: null,
    dependsOn: null,
    dependencyMode: 'all',
    dependencyWindowMs: 3_600_000,
    version: 1,
    createdAt: T0 - 60_000,
    updatedAt: T0 - 60_000,
    ...over,
  };
}

/**
 * The jobs table in memory, counting every row a query hands back (a scan of the table counts the table). It also
 * answers the fingerprint/versions pair the reconcile used to read, so the same test measures either way.
 */
class JobsTable {
  rowsRead = 0;
  readonly rows = new Map<number, JobEntity>();
  readonly tombstones: { id: number; deletedAt: number }[] = [];
  readonly cursorWrites: { id: number; tickAt: number }[] = [];

  private hand<T>(rows: T[], scanned = rows.length): T[] {
    this.rowsRead += scanned;
    return rows;
  }

  repository(): JobsRepository {
    const sorted = (rows: JobEntity[]) => rows.sort((a, b) => a.updatedAt - b.updatedAt || a.id - b.id);
    const after = (c: { at: number; id: number }, at: number, id: number) => at > c.at || (at === c.at && id > c.id);
    return {
      findEnabledPage: (afterId: number, limit: number, shards: number[] | null = null) =>
        Promise.resolve(
          this.hand(
            [...this.rows.values()]
              .filter((j) => j.enabled && j.id > afterId && (!shards || shards.includes(shardOf(j.id))))
              .slice(0, limit),
          ),
        ),
      findById: (id: number) => Promise.resolve(this.hand([this.rows.get(id) ?? null])[0]),
      findByIds: (ids: number[]) => Promise.resolve(new Map(this.hand(ids.map((id) => [id, this.rows.get(id)!])))),
      fingerprint: () => {
        const all = this.hand([...this.rows.values()]);
        return Promise.resolve(
          `${all.length}:${Math.max(0, ...all.map((j) => j.updatedAt))}:${all.reduce((n, j) => n + j.version, 0)}`,
        );
      },
      versions: () =>
        Promise.resolve(new Map(this.hand([...this.rows.values()]).map((j): [number, number] => [j.id, j.version]))),
      findChangedAfter: (c: { at: number; id: number }, upTo: number | null, limit: number) =>
        Promise.resolve(
          this.hand(
            sorted(
              [...this.rows.values()].filter(
                (j) => after(c, j.updatedAt, j.id) && (upTo === null || j.updatedAt <= upTo),
              ),
            ).slice(0, limit),
          ),
        ),
      findDeletedAfter: (c: { at: number; id: number }, upTo: number | null, limit: number) =>
        Promise.resolve(
          this.hand(
            this.tombstones
              .filter((d) => after(c, d.deletedAt, d.id) && (upTo === null || d.deletedAt <= upTo))
              .slice(0, limit),
          ),
        ),
      pruneTombstones: () => Promise.resolve(0),
      advanceCursors: (moves: { id: number; tickAt: number }[]) => {
        for (const m of moves) this.cursorWrites.push(m);
        return Promise.resolve();
      },
    } as unknown as JobsRepository;
  }
}

/** ShardOwnership as the scheduler sees it: the shards it plans, and the changes it is told of. */
class FakeShards {
  planned = new Set<number>();
  listener: ((change: ShardChange) => Promise<void>) | null = null;
  plans(jobId: number): boolean {
    return this.planned.has(shardOf(jobId));
  }
  plansShard(n: number): boolean {
    return this.planned.has(n);
  }
  shardFilter(): number[] {
    return [...this.planned].sort((a, b) => a - b);
  }
  onChange(l: (change: ShardChange) => Promise<void>): void {
    this.listener = l;
  }
  whenDecided(): Promise<void> {
    return Promise.resolve();
  }
  async move(change: ShardChange): Promise<void> {
    for (const n of change.gained) this.planned.add(n);
    for (const n of change.lost) this.planned.delete(n);
    await this.listener!(change);
  }
}

function harness(
  table: JobsTable,
  claimTick: () => Promise<TickAnswer> = () => Promise.resolve({ kind: 'claimed' }),
  shards?: FakeShards,
) {
  const timers = { every: jest.fn(), clearInterval: jest.fn(), setTimeout: jest.fn() } as unknown as Timers;
  const jobs = table.repository();
  const runs = {
    lastScheduledTick: () => Promise.resolve(null),
    writtenAt: () => Promise.resolve(null),
  } as unknown as RunsRepository;
  const cursors = new JobCursors(jobs, runs, timers);
  const claimer = { claimTick: jest.fn(claimTick), claimRange: jest.fn(), record: jest.fn() } as unknown as TickClaimer;
  const pool = { forgetJob: jest.fn() } as unknown as ExecutorPool;
  const events = { jobChanged: jest.fn() } as unknown as EventsService;
  const bus = { onJobChanged: jest.fn(), publish: jest.fn() } as unknown as JobChangeBus;
  const config = { dispatcher: { misfireThresholdSeconds: 30 } } as AppConfig;
  const scheduler = new SchedulerService(
    jobs,
    cursors,
    claimer,
    pool,
    timers,
    events,
    bus,
    config,
    undefined,
    shards as unknown as ShardOwnership,
  );
  return { scheduler, claimer, cursors };
}

describe('SchedulerService', () => {
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('reconciles at the cost of what changed, not of how many jobs there are', async () => {
    jest.useFakeTimers({ now: T0 });
    const table = new JobsTable();
    // 10,000 jobs, 9,000 of them paused.
    for (let id = 1; id <= 10_000; id++) table.rows.set(id, job(id, { enabled: id <= 1000 }));
    const { scheduler } = harness(table);
    await scheduler.reconcile(true);
    expect(scheduler.scheduledCount).toBe(1000);

    // Made elsewhere, and their pub/sub messages lost: one job paused, one resumed, one deleted.
    jest.setSystemTime(T0 + 2000);
    const now = Date.now();
    table.rows.set(5, job(5, { enabled: false, version: 2, updatedAt: now }));
    table.rows.set(5005, job(5005, { enabled: true, version: 2, updatedAt: now }));
    table.rows.delete(7);
    table.tombstones.push({ id: 7, deletedAt: now });
    table.rowsRead = 0;
    await scheduler.reconcile(false);
    await jest.advanceTimersByTimeAsync(0); // the mailboxes apply them
    expect(scheduler.scheduledCount).toBe(1000 - 1 + 1 - 1);
    expect(table.rowsRead).toBeLessThanOrEqual(10);

    // Nothing changed since: a pass reads (almost) nothing.
    table.rowsRead = 0;
    await scheduler.reconcile(false);
    expect(table.rowsRead).toBeLessThanOrEqual(10);
    await scheduler.onApplicationShutdown();
  });

  it('never schedules a deleted job again, whatever stale copy of it arrives after its tombstone', async () => {
    jest.useFakeTimers({ now: T0 });
    const table = new JobsTable();
    for (let id = 1; id <= 3; id++) table.rows.set(id, job(id));
    const { scheduler } = harness(table);
    await scheduler.reconcile(true);
    const stale = job(2); // a refresh read the row just before the DELETE committed
    jest.setSystemTime(T0 + 2000);
    table.rows.delete(2);
    table.tombstones.push({ id: 2, deletedAt: Date.now() });
    await scheduler.reconcile(false);
    await jest.advanceTimersByTimeAsync(0);
    expect(scheduler.scheduledCount).toBe(2);
    await scheduler.upsert(stale);
    expect(scheduler.scheduledCount).toBe(2);
    await scheduler.onApplicationShutdown();
  });

  it('keeps a job without a cron (its parents start it) known but never plans a tick of it', async () => {
    jest.useFakeTimers({ now: T0 + 100 });
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const table = new JobsTable();
    table.rows.set(1, job(1, { cron: '', dependsOn: [{ jobId: 2, on: 'success' }] }));
    table.rows.set(2, job(2));
    const { scheduler, claimer } = harness(table);
    await scheduler.reconcile(true);
    expect(scheduler.scheduledCount).toBe(2);
    expect(scheduler.jobsPerGroup().get('default')).toBe(2);
    await jest.advanceTimersByTimeAsync(3000);
    const claimed = (claimer.claimTick as jest.Mock).mock.calls.map((c: [JobEntity]) => c[0].id);
    expect(claimed).toContain(2);
    expect(claimed).not.toContain(1);
    // Given a cron later, it is planned from then on; its cron taken away again, it stops.
    (claimer.claimTick as jest.Mock).mockClear();
    await scheduler.upsert(job(1, { cron: '* * * * * *', version: 2, lastTickAt: Date.now() }));
    await jest.advanceTimersByTimeAsync(2000);
    expect((claimer.claimTick as jest.Mock).mock.calls.map((c: [JobEntity]) => c[0].id)).toContain(1);
    await scheduler.upsert(job(1, { cron: '', version: 3, dependsOn: [{ jobId: 2, on: 'always' }] }));
    (claimer.claimTick as jest.Mock).mockClear();
    await jest.advanceTimersByTimeAsync(2000);
    expect((claimer.claimTick as jest.Mock).mock.calls.map((c: [JobEntity]) => c[0].id)).not.toContain(1);
    expect(error).not.toHaveBeenCalled();
    await scheduler.onApplicationShutdown();
  });

  it('logs a database outage as a line every 10 s with a count, not one warning per due job per tick', async () => {
    jest.useFakeTimers({ now: T0 + 100 });
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const table = new JobsTable();
    for (let id = 1; id <= 200; id++) table.rows.set(id, job(id));
    const { scheduler, claimer } = harness(table, () => Promise.reject(new Error('connect ECONNREFUSED')));
    await scheduler.reconcile(true);
    await jest.advanceTimersByTimeAsync(5000);
    // Every due job kept trying (it is retried each second, its cursor did not move) …
    expect((claimer.claimTick as jest.Mock).mock.calls.length).toBeGreaterThanOrEqual(200 * 4);
    // … and the log got one line for all of it.
    const tickWarnings = warn.mock.calls.filter((c) => JSON.stringify(c[0]).includes('tick handling failed'));
    expect(tickWarnings).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(6000);
    const after = warn.mock.calls.filter((c) => JSON.stringify(c[0]).includes('tick handling failed'));
    expect(after).toHaveLength(2);
    expect(after[1][0]).toMatchObject({ repeated: expect.any(Number) as number });
    await scheduler.onApplicationShutdown();
  });

  it('plans only its shards; a lost shard leaves with its cursors written first, a gained one is loaded', async () => {
    jest.useFakeTimers({ now: T0 + 100 });
    const table = new JobsTable();
    for (let id = 1; id <= 300; id++) table.rows.set(id, job(id));
    const shards = new FakeShards();
    const byShard = new Map<number, number[]>();
    for (let id = 1; id <= 300; id++) byShard.set(shardOf(id), [...(byShard.get(shardOf(id)) ?? []), id]);
    const [kept, lost, gained] = [...byShard.keys()];
    shards.planned = new Set([kept, lost]);
    const { scheduler, claimer } = harness(table, undefined, shards);
    await scheduler.onApplicationBootstrap();
    const ids = (n: number) => byShard.get(n)!;
    expect(scheduler.scheduledCount).toBe(ids(kept).length + ids(lost).length);
    await jest.advanceTimersByTimeAsync(2000);
    const claimed = () => new Set((claimer.claimTick as jest.Mock).mock.calls.map((c: [JobEntity]) => c[0].id));
    expect([...claimed()].sort((a, b) => a - b)).toEqual([...ids(kept), ...ids(lost)].sort((a, b) => a - b));

    // Lost: by the time the change is handled, its jobs are no longer planned here and their cursors are written.
    table.cursorWrites.length = 0;
    await shards.move({ gained: [], lost: [lost] });
    expect(scheduler.scheduledCount).toBe(ids(kept).length);
    const written = new Map(table.cursorWrites.map((w) => [w.id, w.tickAt]));
    for (const id of ids(lost)) expect(written.get(id)).toBe(T0 + 2000);
    (claimer.claimTick as jest.Mock).mockClear();
    await jest.advanceTimersByTimeAsync(2000);
    for (const id of ids(lost)) expect(claimed().has(id)).toBe(false);

    // Gained: its enabled jobs are read (with the cursors stored) and planned from there.
    for (const id of ids(gained)) table.rows.set(id, job(id, { lastTickAt: T0 + 3000 }));
    await shards.move({ gained: [gained], lost: [] });
    await jest.advanceTimersByTimeAsync(0);
    expect(scheduler.scheduledCount).toBe(ids(kept).length + ids(gained).length);
    (claimer.claimTick as jest.Mock).mockClear();
    await jest.advanceTimersByTimeAsync(1000);
    for (const id of ids(gained)) expect(claimed().has(id)).toBe(true);
    const first = (claimer.claimTick as jest.Mock).mock.calls.find((c: [JobEntity]) => c[0].id === ids(gained)[0]);
    expect(first![1]).toBeGreaterThan(T0 + 3000); // from its stored cursor on
    await scheduler.onApplicationShutdown();
  });
});
