// Issue 11, item 5: a tick is a run or inside one recorded dropped range, never both, on any interleaving of two
// dispatchers (two claim pipelines on two connections to one ledger) and the missed-tick sweeper. Each dispatcher
// has a lock of its own, so nothing but the ledger's unique key stands between them (as when a Redis lock expired).
import { Logger } from '@nestjs/common';
import type { AppConfig, DatabaseConfig } from '@app/config';
import { InProcessLock } from '@app/locking';
import {
  dataSourceOptions,
  JobEntity,
  JobsRepository,
  migrate,
  MisfirePolicy,
  RunBatchRepository,
  RunsRepository,
} from '@app/persistence';
import { DataSource } from 'typeorm';
import { Dialect, mysqlDialect, sqliteDialect } from '../../../../test/support/ledger-dialects';
import type { Timers } from '../common/timers.service';
import type { EventsService } from '../events/events.service';
import type { ExecutorPool } from '../executor-client/executor-pool.service';
import type { RunCanceller } from '../launching/run-canceller.service';
import type { RunLauncher, RunToOffer } from '../launching/run-launcher.service';
import type { DueQueue } from './due-queue';
import type { JobChangeBus } from './job-change-bus';
import { JobCursors } from './job-cursors';
import { MissedTickSweeper } from './missed-tick-sweeper';
import { SchedulerService } from './scheduler.service';
import { TickClaimer } from './tick-claimer';

/** The last tick before the outage (whole seconds); the job fires every second. */
const T = Date.parse('2026-03-01T00:00:00Z');
const sec = (n: number) => T + n * 1000;

/** One dispatcher: its own connection pool, lock, claim pipeline, cursors and scheduler. */
interface TestDispatcher {
  ds: DataSource;
  jobs: JobsRepository;
  runs: RunsRepository;
  cursors: JobCursors;
  claimer: TickClaimer;
  scheduler: SchedulerService;
  sweeper: MissedTickSweeper;
  /** Ticks whose runs this dispatcher offered to executors. */
  offered: number[];
  catchUp(jobId: number): Promise<void>;
}

/** The scheduler's due queue and handler: the test decides when a job is due, so it stops the queue's own timer. */
type SchedulerInternals = { due: DueQueue; catchUp(id: number): Promise<void> };

/** Lets a test hold a call at a chosen point: `reached` once it gets there, `release()` to let it go on. */
interface Gate {
  reached: Promise<void>;
  release(): void;
}

function gate(): Gate & { arrive(): Promise<void> } {
  let arrived!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const released = new Promise<void>((r) => (release = r));
  return {
    reached,
    release,
    arrive: () => {
      arrived();
      return released;
    },
  };
}

/** Holds the first call of `obj[key]` matching `when` before it runs. */
function holdBefore<T extends object>(obj: T, key: keyof T, when: (...args: unknown[]) => boolean): Gate {
  const g = gate();
  const original = (obj[key] as (...args: unknown[]) => Promise<unknown>).bind(obj);
  let held = false;
  (obj as Record<keyof T, unknown>)[key] = async (...args: unknown[]) => {
    if (!held && when(...args)) {
      held = true;
      await g.arrive();
    }
    return original(...args);
  };
  return g;
}

/** Holds the first call of `obj[key]` after it has run (its reads are done), before its answer is used. */
function holdAfter<T extends object>(obj: T, key: keyof T): Gate {
  const g = gate();
  const original = (obj[key] as (...args: unknown[]) => Promise<unknown>).bind(obj);
  let held = false;
  (obj as Record<keyof T, unknown>)[key] = async (...args: unknown[]) => {
    const answer = await original(...args);
    if (!held) {
      held = true;
      await g.arrive();
    }
    return answer;
  };
  return g;
}

describe.each<[string, () => Dialect]>([
  ['SQLite', sqliteDialect],
  ['MariaDB', mysqlDialect],
])('misfire ranges and late claims on one ledger (%s)', (_name, makeDialect) => {
  const dialect = makeDialect();
  let db: DatabaseConfig;
  const open: DataSource[] = [];

  // Missed ticks are logged as errors, one line each: the assertions say what matters here.
  beforeAll(() => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  // A database of each test's own: the sweeper looks at every job in it.
  beforeEach(async () => {
    db = await dialect.fresh();
    const ds = new DataSource(dataSourceOptions(db));
    await ds.initialize();
    await migrate(ds);
    await ds.destroy();
  });

  afterEach(async () => {
    jest.useRealTimers();
    for (const ds of open.splice(0)) await ds.destroy();
  });

  afterAll(async () => {
    await dialect.cleanup();
  });

  /** Only Date is faked: the database drivers keep their real timers and I/O. */
  function clockAt(at: number): void {
    jest.useFakeTimers({
      now: at,
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
    });
  }

  /** Executors a broadcast job runs on: two, so that its runs sit under executor keys, not the empty one. */
  const BROADCAST_TARGETS = [{ address: '10.0.0.1:50051' }, { address: '10.0.0.2:50051' }];

  async function dispatcher(id: string, startedAt: number): Promise<TestDispatcher> {
    const ds = new DataSource(dataSourceOptions(db));
    await ds.initialize();
    open.push(ds);
    const jobs = new JobsRepository(ds);
    const runs = new RunsRepository(ds);
    const config = {
      redis: { prefix: 'fence' },
      dispatcher: { id, misfireThresholdSeconds: 30, missedGraceSeconds: 120 },
    } as AppConfig;
    const offered: number[] = [];
    const launcher = {
      offer: (list: RunToOffer[]) => {
        offered.push(...list.map((o) => o.run.scheduledAt));
        return Promise.resolve(list.map(() => 'started' as const));
      },
    } as unknown as RunLauncher;
    const events = { runChanged: () => undefined, jobChanged: () => undefined } as unknown as EventsService;
    const pool = { forgetJob: () => undefined, broadcastTargets: () => BROADCAST_TARGETS } as unknown as ExecutorPool;
    const timers = { setTimeout: () => undefined, every: () => undefined, clearInterval: () => undefined };
    const claimer = new TickClaimer(
      new InProcessLock(),
      config,
      new RunBatchRepository(ds),
      runs,
      launcher,
      {} as RunCanceller,
      pool,
      events,
    );
    const cursors = new JobCursors(jobs, runs, timers as unknown as Timers);
    const bus = { onJobChanged: () => undefined, publish: () => undefined } as unknown as JobChangeBus;
    const scheduler = new SchedulerService(
      jobs,
      cursors,
      claimer,
      pool,
      timers as unknown as Timers,
      events,
      bus,
      config,
    );
    scheduler.startedAt = startedAt;
    const internals = scheduler as unknown as SchedulerInternals;
    internals.due.stop();
    const sweeper = new MissedTickSweeper(jobs, runs, cursors, claimer, timers as unknown as Timers, config);
    sweeper.watchSince = startedAt;
    return {
      ds,
      jobs,
      runs,
      cursors,
      claimer,
      scheduler,
      sweeper,
      offered,
      catchUp: (jobId) => internals.catchUp(jobId),
    };
  }

  async function createJob(
    d: TestDispatcher,
    name: string,
    misfire: MisfirePolicy,
    routing: 'round_robin' | 'broadcast' = 'round_robin',
  ): Promise<JobEntity> {
    return d.jobs.create({
      name,
      description: '',
      cron: '* * * * * *',
      timezone: 'UTC',
      type: 'shell',
      command: 'true',
      env: {},
      http: null,
      timeoutMs: 60_000,
      retries: 0,
      retryBackoffMs: 0,
      concurrency: 'allow',
      misfire,
      group: 'default',
      routing,
      enabled: true,
      scheduleSetAt: 0,
      lastTickAt: T,
      nextRunAt: sec(1),
    });
  }

  /** Lets each dispatcher plan and claim again until nothing is left to do (what their due queues would do). */
  async function settle(jobId: number, ...dispatchers: TestDispatcher[]): Promise<void> {
    for (let round = 0; round < 5; round++) for (const d of dispatchers) await d.catchUp(jobId);
  }

  interface Ledger {
    /** Every tick second of the job and how many records cover it: its runs, and each dropped range's ticks. */
    covered: Map<number, number>;
    ranges: { from: number; to: number; count: number }[];
    /** Ticks run (not skipped, not missed) and their trigger. */
    runs: Map<number, string>;
    missed: number[];
  }

  async function ledgerOf(d: TestDispatcher, jobId: number): Promise<Ledger> {
    const rows = await d.ds.query<{ scheduled_at: string | number; status: string; trigger: string; error: string }[]>(
      `SELECT scheduled_at, status, \`trigger\`, error FROM runs WHERE job_id = ? AND attempt = 1`,
      [jobId],
    );
    const ledger: Ledger = { covered: new Map(), ranges: [], runs: new Map(), missed: [] };
    /** A broadcast tick is one record however many executors run it. */
    const runTicks = new Set<number>();
    const cover = (t: number) => ledger.covered.set(t, (ledger.covered.get(t) ?? 0) + 1);
    for (const row of rows) {
      const at = Number(row.scheduled_at);
      const range =
        row.status === 'skipped' && row.trigger === 'misfire'
          ? /(\d+) missed tick\(s\) from (\S+) to (\S+) dropped/.exec(row.error ?? '')
          : null;
      if (range) {
        const [from, to] = [Date.parse(range[2]), Date.parse(range[3])];
        ledger.ranges.push({ from, to, count: Number(range[1]) });
        for (let t = from; t <= to; t += 1000) cover(t);
        continue;
      }
      if (row.status !== 'missed') {
        if (runTicks.has(at)) continue;
        runTicks.add(at);
      }
      cover(at);
      if (row.status === 'missed') ledger.missed.push(at);
      else ledger.runs.set(at, row.trigger);
    }
    ledger.ranges.sort((a, b) => a.from - b.from);
    ledger.missed.sort((a, b) => a - b);
    return ledger;
  }

  /** Every tick from the first after the outage to `upTo` has exactly one record. */
  function expectEachTickOnce(ledger: Ledger, upTo: number): void {
    const twice = [...ledger.covered].filter(([, n]) => n > 1).map(([t]) => new Date(t).toISOString());
    expect(twice).toEqual([]);
    const uncovered: string[] = [];
    for (let t = sec(1); t <= upTo; t += 1000) if (!ledger.covered.has(t)) uncovered.push(new Date(t).toISOString());
    expect(uncovered).toEqual([]);
  }

  // Broadcast too: its runs sit under executor keys, which the range's empty key does not collide with, so there
  // the range and the missed records also look for any record of their tick under its lock.
  const ROUTINGS = ['round_robin', 'broadcast'] as const;

  it.each(ROUTINGS)(
    'a lagging dispatcher reaching ticks a newly started one recorded as dropped runs none of them (%s)',
    async (routing) => {
      clockAt(sec(12));
      // A ran all along and stalled after the tick at T; B started at T+10 s. Both now at T+12 s.
      const a = await dispatcher('lagging', sec(-3600));
      const b = await dispatcher('new', sec(10));
      const job = await createJob(a, 'lagging-after-range', 'once', routing);
      await a.scheduler.upsert(job);
      await b.scheduler.upsert(job);
      // A has planned its late ticks (all within the threshold for it) and is about to claim the first.
      const aHeld = holdBefore(a.claimer, 'claimTick', (_job, at) => at === sec(1));
      const aPass = a.catchUp(job.id);
      await aHeld.reached;
      // Meanwhile B drops 1..8, fires 9 (misfire: once) and claims 10..12.
      await b.catchUp(job.id);
      aHeld.release();
      await aPass;
      await settle(job.id, a, b);

      const ledger = await ledgerOf(a, job.id);
      expectEachTickOnce(ledger, sec(12));
      expect(ledger.ranges).toEqual([{ from: sec(1), to: sec(8), count: 8 }]);
      expect([...ledger.runs].filter(([, trigger]) => trigger === 'misfire')).toEqual([[sec(9), 'misfire']]);
      expect(a.offered).toEqual([]); // A ran none of the ticks: each was recorded before it got there
    },
  );

  it.each(ROUTINGS)(
    'a range whose first tick a late claim took first is planned again from the ledger (%s)',
    async (routing) => {
      clockAt(sec(12));
      const a = await dispatcher('lagging', sec(-3600));
      const b = await dispatcher('new', sec(10));
      const job = await createJob(a, 'claim-before-range', 'skip', routing);
      const perTick = routing === 'broadcast' ? BROADCAST_TARGETS.length : 1;
      await a.scheduler.upsert(job);
      await b.scheduler.upsert(job);
      // B reads the ledger (nothing after T) and, before it records 1..9 as dropped, A claims 1, 2 and 3.
      const bRead = holdAfter(b.cursors, 'restoreFromLedger');
      const aHeld = holdBefore(a.claimer, 'claimTick', (_job, at) => at === sec(4));
      const bPass = b.catchUp(job.id);
      await bRead.reached;
      const aPass = a.catchUp(job.id);
      await aHeld.reached;
      bRead.release();
      await bPass;
      aHeld.release();
      await aPass;
      await settle(job.id, a, b);

      const ledger = await ledgerOf(b, job.id);
      expectEachTickOnce(ledger, sec(12));
      expect(a.offered.slice(0, 3 * perTick)).toEqual(
        [sec(1), sec(2), sec(3)].flatMap((t) => Array<number>(perTick).fill(t)),
      );
      // A was seen working on the job (it wrote 1..3 just now): the rest are late ticks, not an outage's.
      expect(ledger.ranges).toEqual([]);
    },
  );

  it.each(['first', 'second'])(
    'two dispatchers started seconds apart, the %s to write its range wins, and the other records none',
    async (winner) => {
      clockAt(sec(13));
      const b1 = await dispatcher('started-at-10', sec(10));
      const b2 = await dispatcher('started-at-12', sec(12));
      const job = await createJob(b1, `two-starts-${winner}`, 'once');
      await b1.scheduler.upsert(job);
      await b2.scheduler.upsert(job);
      // Both read the ledger before either writes: each plans its own range from T.
      const read1 = holdAfter(b1.cursors, 'restoreFromLedger');
      const read2 = holdAfter(b2.cursors, 'restoreFromLedger');
      const pass1 = b1.catchUp(job.id);
      const pass2 = b2.catchUp(job.id);
      await Promise.all([read1.reached, read2.reached]);
      const [first, second] = winner === 'first' ? [read1, read2] : [read2, read1];
      const [firstPass, secondPass] = winner === 'first' ? [pass1, pass2] : [pass2, pass1];
      first.release();
      await firstPass;
      second.release();
      await secondPass;
      await settle(job.id, b1, b2);

      const ledger = await ledgerOf(b1, job.id);
      expectEachTickOnce(ledger, sec(13));
      // B1 drops 1..8 and fires 9; B2 (started later) would drop 1..10 and fire 11: one of them, not both.
      expect(ledger.ranges).toEqual(
        winner === 'first' ? [{ from: sec(1), to: sec(8), count: 8 }] : [{ from: sec(1), to: sec(10), count: 10 }],
      );
      expect([...ledger.runs].filter(([, trigger]) => trigger === 'misfire')).toHaveLength(1);
    },
  );

  it('the missed-tick sweeper stops at a dropped range it did not see when it read the ledger', async () => {
    // An outage of 400 s: older than the missed-tick grace (120 s), so a running dispatcher's sweeper looks too.
    clockAt(sec(400));
    const watcher = await dispatcher('sweeping', sec(-3600));
    const b = await dispatcher('new', sec(390));
    const job = await createJob(b, 'sweeper-and-range', 'skip');
    await b.scheduler.upsert(job);
    // The sweeper has read which ticks have records (none) when the new dispatcher records its range.
    const swept = holdAfter(watcher.runs, 'recordedTicks');
    const sweep = watcher.sweeper.sweep(sec(400));
    await swept.reached;
    await b.catchUp(job.id);
    swept.release();
    await sweep;
    await settle(job.id, b);

    const ledger = await ledgerOf(b, job.id);
    expectEachTickOnce(ledger, sec(400));
    expect(ledger.missed).toEqual([]);
    expect(ledger.ranges).toEqual([{ from: sec(1), to: sec(389), count: 389 }]);
  });

  it('a dropped range starts after the ticks the sweeper recorded as missed first', async () => {
    clockAt(sec(400));
    const watcher = await dispatcher('sweeping', sec(-3600));
    const b = await dispatcher('new', sec(390));
    const job = await createJob(b, 'sweeper-before-range', 'skip');
    await b.scheduler.upsert(job);
    expect(await watcher.sweeper.sweep(sec(400))).toBe(100); // 1..100 (at most 100 a job and sweep)
    await settle(job.id, b);

    const ledger = await ledgerOf(b, job.id);
    expectEachTickOnce(ledger, sec(400));
    expect(ledger.missed).toEqual(Array.from({ length: 100 }, (_, i) => sec(i + 1)));
    expect(ledger.ranges).toHaveLength(1);
    expect(ledger.ranges[0].from).toBe(sec(101));
  });
});
