// The dependency pass on real SQLite and MariaDB, with the real claim pipeline (TickClaimer, the ledger's unique
// key, run_links): which parent runs start which child runs, once, whatever passes and planners see them. The
// executors are left out (a claimed run is only recorded); test/dependencies.e2e-spec.ts runs the whole system.
import { DataSource } from 'typeorm';
import type { AppConfig } from '@app/config';
import { InProcessLock, TickLock, tickLockKey } from '@app/locking';
import {
  dataSourceOptions,
  DependencyCondition,
  DependencyLedger,
  JobEntity,
  JobsRepository,
  migrate,
  NewJob,
  RunBatchRepository,
  RunEntity,
  RunLinksRepository,
  RunResult,
  RunsRepository,
} from '@app/persistence';
import { mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import { shellJob } from '../../../../test/support/ledger-rows';
import type { Timers } from '../common/timers.service';
import type { EventsService } from '../events/events.service';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import type { RunCanceller } from '../launching/run-canceller.service';
import type { RunLauncher } from '../launching/run-launcher.service';
import type { ShardOwnership } from '../cluster/shard-ownership.service';
import { TickClaimer } from '../scheduling/tick-claimer';
import { DEPENDENCY_SETTLE_MS, DependencyPlanner } from './dependency-planner.service';

const HOUR = 3600_000;

describe.each([
  ['SQLite', sqliteDialect],
  ['MariaDB', mysqlDialect],
])('dependency pass (%s)', (_name, makeDialect) => {
  const dialect = makeDialect();
  let ds: DataSource;
  let jobs: JobsRepository;
  let ledger: RunBatchRepository;
  let runs: RunsRepository;
  const lock: TickLock = new InProcessLock();
  let offered: number[];
  let seq = 0;

  beforeAll(async () => {
    ds = new DataSource(dataSourceOptions(await dialect.fresh()));
    await ds.initialize();
    await migrate(ds);
    jobs = new JobsRepository(ds);
    ledger = new RunBatchRepository(ds);
    runs = new RunsRepository(ds);
  });

  afterAll(async () => {
    await ds?.destroy();
    await dialect.cleanup();
  });

  beforeEach(async () => {
    offered = [];
    for (const t of ['runs', 'run_links', 'job_dependencies', 'pass_cursors', 'jobs'])
      await ds.query(`DELETE FROM ${t}`);
  });

  /** A planner as one dispatcher runs it, over its own claim pipeline (offers recorded, not sent). */
  function planner(id = 'd1', shards?: Pick<ShardOwnership, 'leads' | 'plans'>): DependencyPlanner {
    const config = { dispatcher: { id }, redis: { prefix: 'deps' } } as AppConfig;
    const launcher = { offer: async (o: { run: { id: number } }[]) => void offered.push(...o.map((x) => x.run.id)) };
    const claimer = new TickClaimer(
      lock,
      config,
      ledger,
      runs,
      launcher as unknown as RunLauncher,
      {} as RunCanceller,
      { broadcastTargets: () => [] } as unknown as ExecutorPool,
      { runChanged: () => undefined } as unknown as EventsService,
    );
    const timers = { every: () => undefined, clearInterval: () => undefined } as unknown as Timers;
    return new DependencyPlanner(
      new DependencyLedger(ds),
      new RunLinksRepository(ds),
      jobs,
      claimer,
      timers,
      config,
      shards as ShardOwnership | undefined,
    );
  }

  async function job(name: string, over: Partial<NewJob> = {}): Promise<JobEntity> {
    return jobs.create(shellJob(name, 'default', Date.now(), over));
  }

  /** Makes `child` depend on the parents (the job row and its edges, as the API writes them). */
  async function depend(
    child: JobEntity,
    parents: [JobEntity, DependencyCondition][],
    mode: 'any' | 'all' = 'all',
    windowMs = HOUR,
  ): Promise<void> {
    const dependsOn = parents.map(([p, on]) => ({ jobId: p.id, on }));
    await ds.query(`UPDATE jobs SET depends_on = ?, dependency_mode = ?, dependency_window_ms = ? WHERE id = ?`, [
      JSON.stringify(dependsOn),
      mode,
      windowMs,
      child.id,
    ]);
    for (const d of dependsOn) {
      await ds.query(`INSERT INTO job_dependencies (child_id, parent_id, on_cond) VALUES (?, ?, ?)`, [
        child.id,
        d.jobId,
        d.on,
      ]);
    }
  }

  /** A finished run of `parent`'s tick at `at` (attempt `attempt`), written as an executor writes it. */
  async function finished(
    parent: JobEntity,
    at: number,
    status: RunResult['status'],
    over: { attempt?: number; tickKey?: string; retry?: boolean; finishedAt?: number } = {},
  ): Promise<number> {
    const tickKey = over.tickKey ?? String(Math.floor(at / 1000) + seq++);
    const [id] = await ledger.claimMany([
      {
        jobId: parent.id,
        tickKey,
        attempt: over.attempt ?? 1,
        scheduledAt: at,
        trigger: (over.attempt ?? 1) > 1 ? 'retry' : 'schedule',
        status: 'pending',
        deadlineAt: at + HOUR,
        dispatcherId: 'd1',
      },
    ]);
    await ds.query(`UPDATE runs SET status = 'running', started_at = ? WHERE id = ?`, [Date.now(), id]);
    const result: RunResult = {
      status,
      finishedAt: over.finishedAt ?? Date.now(),
      exitCode: status === 'succeeded' ? 0 : 1,
    };
    const run = {
      id: id as number,
      jobId: parent.id,
      tickKey,
      attempt: over.attempt ?? 1,
      executorKey: '',
      scheduledAt: at,
    };
    if (over.retry)
      await runs.finishWithRetry(run, result, { retries: parent.retries, retryBackoffMs: 1000, timeoutMs: HOUR });
    else await ledger.finishMany([{ id: id as number, result }]);
    return id as number;
  }

  async function runsOf(jobId: number): Promise<RunEntity[]> {
    return (await ds.getRepository(RunEntity).find({ where: { jobId }, order: { id: 'ASC' } })).filter(
      (r) => r.trigger === 'dependency',
    );
  }

  async function parentsOf(run: RunEntity): Promise<number[]> {
    const map = await new RunLinksRepository(ds).parentRunIdsOf([{ jobId: run.jobId, tickKey: run.tickKey }]);
    return [...map.values()][0] ?? [];
  }

  it('any: a success starts each child once, however many passes and planners look at it', async () => {
    const a = await job('a');
    const b = await job('b');
    const c = await job('c');
    await depend(b, [[a, 'success']], 'any');
    await depend(c, [[a, 'success']], 'any');
    const run = await finished(a, Date.now() - 1000, 'succeeded');
    const [p1, p2] = [planner('d1'), planner('d2')];
    await Promise.all([p1.pass(), p2.pass()]);
    await p1.pass();
    await p2.pass(Date.now() + DEPENDENCY_SETTLE_MS + 1000); // the settled read goes over it too
    for (const child of [b, c]) {
      const started = await runsOf(child.id);
      expect(started).toHaveLength(1);
      expect(started[0].status).toBe('pending');
      expect(started[0].tickKey).toMatch(new RegExp(`^dep:${a.id}:`));
      expect(await parentsOf(started[0])).toEqual([run]);
    }
    expect(new Set(offered).size).toBe(2);
  });

  it('shards: a dispatcher starts the children it plans; the leader settled read starts a dead owner one', async () => {
    const a = await job('a');
    const b = await job('b');
    const c = await job('c');
    await depend(b, [[a, 'success']], 'any');
    await depend(c, [[a, 'success']], 'any');
    await finished(a, Date.now() - 1000, 'succeeded');
    // A follower that plans b only (c's owner has just died): it starts b, and keeps no marks of what it did.
    const follower = planner('d1', { leads: false, plans: (id: number) => id === b.id });
    await follower.pass();
    await follower.pass();
    expect(await runsOf(b.id)).toHaveLength(1);
    expect(await runsOf(c.id)).toHaveLength(0);
    expect((follower as unknown as { handled: Map<number, number> }).handled.size).toBe(0);
    // The leader plans neither: its fast read starts nothing, its settled read starts c (and b not again).
    const leader = planner('d2', { leads: true, plans: () => false });
    await leader.pass();
    expect(await runsOf(c.id)).toHaveLength(0);
    await leader.pass(Date.now() + DEPENDENCY_SETTLE_MS + 1000);
    expect(await runsOf(b.id)).toHaveLength(1);
    expect(await runsOf(c.id)).toHaveLength(1);
  });

  it('conditions: a failure starts `failure` and `always` children, not `success` ones; a chain stops there', async () => {
    const a = await job('a');
    const [onSuccess, onFailure, always] = [await job('s'), await job('f'), await job('w')];
    await depend(onSuccess, [[a, 'success']], 'any');
    await depend(onFailure, [[a, 'failure']], 'any');
    await depend(always, [[a, 'always']], 'any');
    await finished(a, Date.now() - 1000, 'timed_out');
    await planner().pass();
    expect(await runsOf(onSuccess.id)).toHaveLength(0);
    expect(await runsOf(onFailure.id)).toHaveLength(1);
    expect(await runsOf(always.id)).toHaveLength(1);
  });

  it('skipped, cancelled and missed runs start nothing; nor does a plain manual run, but a cascade one does', async () => {
    const a = await job('a');
    const b = await job('b');
    await depend(b, [[a, 'always']], 'any');
    for (const status of ['skipped', 'cancelled', 'missed'] as const) await finished(a, Date.now() - 1000, status);
    await finished(a, Date.now() - 500, 'succeeded', { tickKey: 'manual:1b0f0c52-2b1e-4d7c-8c44-f1b0f7f1e7a1' });
    await planner().pass();
    expect(await runsOf(b.id)).toHaveLength(0);
    await finished(a, Date.now() - 400, 'succeeded', { tickKey: 'cascade:1b0f0c52-2b1e-4d7c-8c44-f1b0f7f1e7a1' });
    await planner().pass();
    expect(await runsOf(b.id)).toHaveLength(1);
  });

  it('a retry that then succeeds starts the child once; the failed attempt before it starts nothing', async () => {
    const a = await job('a', { retries: 1 });
    const b = await job('b');
    const fails = await job('f');
    await depend(b, [[a, 'success']], 'any');
    await depend(fails, [[a, 'failure']], 'any');
    const at = Date.now() - 1000;
    const tickKey = String(Math.floor(at / 1000));
    await finished(a, at, 'failed', { tickKey, retry: true });
    const p = planner();
    await p.pass();
    expect(await runsOf(b.id)).toHaveLength(0);
    expect(await runsOf(fails.id)).toHaveLength(0); // not the final attempt
    // The retry (attempt 2, written by finishWithRetry) runs and succeeds.
    const [retry] = await ds.getRepository(RunEntity).find({ where: { jobId: a.id, attempt: 2 } });
    await ds.query(`UPDATE runs SET status = 'running', started_at = ? WHERE id = ?`, [Date.now(), retry.id]);
    await ledger.finishMany([{ id: retry.id, result: { status: 'succeeded', finishedAt: Date.now(), exitCode: 0 } }]);
    await p.pass();
    await planner('d2').pass(Date.now() + DEPENDENCY_SETTLE_MS + 1000);
    const started = await runsOf(b.id);
    expect(started).toHaveLength(1);
    expect(started[0].tickKey).toBe(`dep:${a.id}:${tickKey}`);
    expect(await parentsOf(started[0])).toEqual([retry.id]);
    expect(await runsOf(fails.id)).toHaveLength(0);
  });

  it('all, shared schedule: the child waits for every parent of the same tick, then starts once', async () => {
    const [a, b] = [await job('a', { cron: '0 * * * *' }), await job('b', { cron: '0 * * * *' })];
    const d = await job('d');
    await depend(d, [
      [a, 'success'],
      [b, 'success'],
    ]);
    const tick = Math.floor(Date.now() / HOUR) * HOUR;
    const ra = await finished(a, tick, 'succeeded');
    await finished(b, tick - HOUR, 'succeeded'); // the previous tick: not this occasion
    const p = planner();
    await p.pass();
    expect(await runsOf(d.id)).toHaveLength(0);
    const rb = await finished(b, tick, 'succeeded');
    await Promise.all([p.pass(), planner('d2').pass()]);
    await p.pass(Date.now() + DEPENDENCY_SETTLE_MS + 1000);
    const started = await runsOf(d.id);
    expect(started).toHaveLength(1);
    expect(started[0].tickKey).toBe(`dep:all:${tick}`);
    expect(await parentsOf(started[0])).toEqual([ra, rb].sort((x, y) => x - y));
  });

  it('all: a parent whose run failed blocks that occasion; a paused parent blocks every one', async () => {
    const [a, b] = [await job('a', { cron: '0 * * * *' }), await job('b', { cron: '0 * * * *' })];
    const d = await job('d');
    await depend(d, [
      [a, 'success'],
      [b, 'success'],
    ]);
    const tick = Math.floor(Date.now() / HOUR) * HOUR;
    await finished(a, tick, 'succeeded');
    await finished(b, tick, 'failed');
    await planner().pass();
    expect(await runsOf(d.id)).toHaveLength(0);
    await ds.query(`UPDATE jobs SET enabled = 0 WHERE id = ?`, [b.id]);
    await finished(a, tick - HOUR, 'succeeded');
    await finished(b, tick - HOUR, 'succeeded');
    await planner().pass();
    expect(await runsOf(d.id)).toHaveLength(0);
  });

  it('all, different schedules: runs within the window make one occasion, each parent run counts once', async () => {
    const [a, b] = [await job('a', { cron: '0 * * * *' }), await job('b', { cron: '30 * * * *' })];
    const d = await job('d');
    await depend(
      d,
      [
        [a, 'success'],
        [b, 'success'],
      ],
      'all',
      45 * 60_000,
    );
    const t0 = Date.now() - 3 * HOUR;
    await finished(a, t0, 'succeeded');
    await finished(b, t0 + 30 * 60_000, 'succeeded');
    await planner().pass();
    expect(await runsOf(d.id)).toHaveLength(1);
    // A second run of `a` within the window of the same `b` run: that `b` run is used up, so nothing starts.
    await finished(a, t0 + HOUR, 'succeeded');
    await planner().pass();
    expect(await runsOf(d.id)).toHaveLength(1);
    // Too far apart: nothing either.
    await finished(b, t0 + 2 * HOUR + 50 * 60_000, 'succeeded');
    await planner().pass();
    expect(await runsOf(d.id)).toHaveLength(1);
    // A `b` run close to the second `a` run completes that occasion.
    await finished(b, t0 + HOUR + 30 * 60_000, 'succeeded');
    await planner().pass();
    const started = await runsOf(d.id);
    expect(started).toHaveLength(2);
    expect(started.map((r) => r.tickKey)).toEqual([`dep:all:${t0}`, `dep:all:${t0 + HOUR}`]);
  });

  it('all, window: planners racing over overlapping choices start one run per set of parent runs, none reused', async () => {
    const [a, b] = [await job('a', { cron: '0 * * * *' }), await job('b', { cron: '*/10 * * * *' })];
    const d = await job('d');
    await depend(
      d,
      [
        [a, 'success'],
        [b, 'success'],
      ],
      'all',
      HOUR,
    );
    const t0 = Date.now() - 2 * HOUR;
    // One `a` run and three `b` runs within the window of it: one occasion can be made, whichever `b` run it takes.
    await finished(a, t0, 'succeeded');
    for (const k of [1, 2, 3]) await finished(b, t0 + k * 10 * 60_000, 'succeeded');
    const planners = [planner('d1'), planner('d2'), planner('d3')];
    await Promise.all(planners.map((p) => p.pass()));
    await Promise.all(planners.map((p) => p.pass()));
    expect(await runsOf(d.id)).toHaveLength(1);
    const links = await ds.query<{ parent_run_id: number | string }[]>(
      `SELECT parent_run_id FROM run_links WHERE child_job_id = ?`,
      [d.id],
    );
    const ids = links.map((l) => Number(l.parent_run_id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(2);
  });

  it('a result written long after its finish (the executor retried its write) still starts the child', async () => {
    const a = await job('a');
    const b = await job('b');
    await depend(b, [[a, 'success']], 'any');
    const p = planner();
    await finished(a, Date.now() - 60_000, 'succeeded');
    await p.pass();
    expect(await runsOf(b.id)).toHaveLength(1);
    // Finished 30 s ago, written now: behind both read positions by its finish, not by its write.
    await finished(a, Date.now() - 40_000, 'succeeded', { finishedAt: Date.now() - 30_000 });
    await p.pass();
    expect(await runsOf(b.id)).toHaveLength(2);
  });

  it('all: two occasions whose earliest runs have the same instant are two runs under two keys', async () => {
    const a = await job('a', { cron: '*/2 * * * *' });
    const b = await job('b', { cron: '*/3 * * * *' });
    const c = await job('c');
    await depend(
      c,
      [
        [a, 'success'],
        [b, 'success'],
      ],
      'all',
      HOUR,
    );
    const p = planner();
    const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;
    // B's run of t0 ends last (a retry, a long run): {A@0, B@3} and then {A@4, B@0}, both earliest at t0.
    await finished(a, t0, 'succeeded');
    await p.pass();
    await finished(b, t0 + 3 * 60_000, 'succeeded');
    await p.pass();
    await finished(a, t0 + 4 * 60_000, 'succeeded');
    await p.pass();
    await finished(b, t0, 'succeeded');
    await p.pass();
    const started = await runsOf(c.id);
    expect(started[0].tickKey).toBe(`dep:all:${t0}`);
    expect(started).toHaveLength(2);
    expect(started[1].tickKey).toMatch(new RegExp(`^dep:all:${t0}:\\d+$`));
    for (const r of started) expect(await parentsOf(r)).toHaveLength(2);
  });

  it('a tick lock held by a dispatcher that died: the settled read waits it out and starts the child', async () => {
    const a = await job('a');
    const b = await job('b');
    await depend(b, [[a, 'success']], 'any');
    const run = await finished(a, Date.now() - 1000, 'succeeded');
    const [row] = await ds.query<{ tick_key: string }[]>(`SELECT tick_key FROM runs WHERE id = ?`, [run]);
    const key = tickLockKey('deps', b.id, `dep:${a.id}:${row.tick_key}`, 1);
    expect(await lock.tryAcquireMany([key], 60_000)).toEqual([true]); // taken, and its holder gone
    const p = planner();
    await p.pass(); // the fast read: held
    const t = Date.now() + DEPENDENCY_SETTLE_MS + 1000;
    for (let i = 0; i < 8; i++) await p.pass(t + i * 250); // the settled read: held, again and again
    expect(await runsOf(b.id)).toHaveLength(0);
    await lock.releaseMany([key]); // the holder's lock runs out
    await p.pass(t + 5000);
    expect(await runsOf(b.id)).toHaveLength(1);
  });

  it('a parent that finished while no dispatcher ran starts its child when one starts again (the stored cursor)', async () => {
    const a = await job('a');
    const b = await job('b');
    await depend(b, [[a, 'success']], 'any');
    // A run of `a` from a minute ago, which d1 handles; then its child's record is removed, so that only a pass that
    // reads it again (from 15 minutes back instead of the stored position) would start it again.
    const old = await finished(a, Date.now() - 70_000, 'succeeded');
    await ds.query(`UPDATE runs SET updated_at = ? WHERE id = ?`, [Date.now() - 60_000, old]);
    const before = planner('d1');
    await before.pass(); // the settled read handles it and stores its position, DEPENDENCY_SETTLE_MS behind now
    expect(await runsOf(b.id)).toHaveLength(1);
    const [stored] = await ds.query<{ pos_at: number | string }[]>(`SELECT pos_at FROM pass_cursors`);
    expect(Number(stored.pos_at)).toBeGreaterThan(Date.now() - DEPENDENCY_SETTLE_MS - 5000);
    await ds.query(`DELETE FROM runs WHERE job_id = ?`, [b.id]);
    await ds.query(`DELETE FROM run_links`);
    // d1 is gone; the parent finishes again; a new dispatcher resumes from the stored position.
    const fresh = await finished(a, Date.now() - 1000, 'succeeded');
    await planner('d3').pass();
    const started = await runsOf(b.id);
    expect(started).toHaveLength(1);
    expect(await parentsOf(started[0])).toEqual([fresh]);
  });

  it('a disabled child ignores its parents; a forbid child with an active run records the occasion as skipped', async () => {
    const a = await job('a');
    const off = await job('off', { enabled: false });
    const busy = await job('busy', { concurrency: 'forbid' });
    await depend(off, [[a, 'success']], 'any');
    await depend(busy, [[a, 'success']], 'any');
    await ledger.claimMany([
      {
        jobId: busy.id,
        tickKey: '1',
        attempt: 1,
        scheduledAt: 1000,
        trigger: 'schedule',
        status: 'pending',
        deadlineAt: Date.now() + HOUR,
        dispatcherId: 'd1',
      },
    ]);
    await finished(a, Date.now() - 1000, 'succeeded');
    await planner().pass();
    expect(await runsOf(off.id)).toHaveLength(0);
    const [skipped] = await runsOf(busy.id);
    expect(skipped.status).toBe('skipped');
    expect(skipped.skippedFrom).toBeNull();
    expect(skipped.error).toMatch(/concurrency: forbid/);
  });
});
