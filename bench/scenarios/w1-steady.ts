// W1 steady: N HTTP jobs every second, for each system; lag from the ledger and from the stub.
import type { Attempt, Bench } from '../lib/bench';
import { withBull } from '../lib/bullmq';
import { withFloor } from '../lib/floor';
import { PLAIN, SetupVariant, variantTag, withGocron } from '../lib/gocron-setup';
import { jobRows } from '../lib/ledger-db';
import type { GocronMode, System } from '../lib/options';
import { Resources, servicesFor } from '../lib/sampling';
import { SteadyLedger, steadyLedger, steadyWindow } from '../lib/steady';
import { TickStats, tickStats } from '../lib/stats';
import { dumpStub, hitsOf, withStub } from '../lib/stub';

export interface W1Result {
  system: System;
  jobs: number;
  seconds: number;
  window: [number, number];
  ledger?: SteadyLedger;
  stub: TickStats;
  statuses?: Record<string, number>;
  createMs?: number;
  resources: Resources;
}

export function w1Attempts(bench: Bench): Attempt<W1Result>[] {
  return bench.opts.w1Sizes.flatMap((n) =>
    bench.opts.systems.map((sys) =>
      sys === 'bullmq'
        ? { label: `W1 bullmq ${n}`, run: () => w1Bull(bench, n) }
        : sys === 'floor'
          ? { label: `W1 floor ${n}`, run: () => w1Floor(bench, n) }
          : { label: `W1 ${sys} ${n}`, run: () => w1Gocron(bench, sys, n) },
    ),
  );
}

export function w1Gocron(bench: Bench, mode: GocronMode, jobs: number, v: SetupVariant = PLAIN): Promise<W1Result> {
  const tag = variantTag('w1', mode, v, jobs);
  return withStub(bench, tag, (stub) =>
    withGocron(bench, mode, tag, async (g) => {
      await g.migrate();
      await g.db.insertJobs(jobRows(jobs, 'w1', '* * * * * *', `${stub.url}/`));
      const { dispatchers, executors } = await g.up();
      const [d, ex] = [dispatchers[0], executors[0]];
      const services = { ...servicesFor(mode), ...v.services };
      const { T0, T1, resources } = await steadyWindow(bench, [d, ex, stub.proc], services, {
        atStart: () => dumpStub(stub),
      });
      const hits = await dumpStub(stub);
      const { ledger, statuses } = await steadyLedger(g, jobs, T0, T1);
      const stubStats = tickStats(hitsOf(hits, 'gocron'), jobs, T0, T1);
      return {
        system: mode,
        jobs,
        seconds: bench.opts.seconds,
        window: [T0, T1],
        ledger,
        stub: stubStats,
        statuses,
        resources,
      };
    }, v.env),
  );
}

function w1Bull(bench: Bench, jobs: number): Promise<W1Result> {
  return withStub(bench, `w1-bullmq-${jobs}`, (stub) =>
    withBull(bench, `bench-bull-${bench.runId}-${jobs}`, async (b) => {
      const { worker } = await b.startWorker(`bullmq-worker-${jobs}`, { STUB_URL: stub.url }, 30_000);
      const t0 = Date.now();
      await b.schedule(jobs, 100, 'w1', '* * * * * *');
      const createMs = Date.now() - t0;
      const { T0, T1, resources } = await steadyWindow(bench, [worker, stub.proc], servicesFor('bullmq'), {
        atStart: () => dumpStub(stub),
      });
      const hits = await dumpStub(stub);
      const stubStats = tickStats(hitsOf(hits, 'bullmq'), jobs, T0, T1);
      return {
        system: 'bullmq',
        jobs,
        seconds: bench.opts.seconds,
        window: [T0, T1],
        stub: stubStats,
        createMs,
        resources,
      };
    }),
  );
}

/** The floor: a bare keep-alive client sending the same GETs to a stub of its own at each whole second. */
function w1Floor(bench: Bench, jobs: number): Promise<W1Result> {
  const env = { FLOOR_MODE: 'http', FLOOR_JOBS: String(jobs) };
  return withStub(bench, `w1-floor-${jobs}`, (stub) =>
    withFloor(bench, `floor-w1-${jobs}`, { ...env, STUB_URL: stub.url }, async (floor) => {
      // no dump at T0 (as the others have): the floor's requests of T0 arrive within milliseconds, some before it
      const { T0, T1, resources } = await steadyWindow(bench, [floor, stub.proc], servicesFor('floor'));
      const hits = await dumpStub(stub);
      return {
        system: 'floor',
        jobs,
        seconds: bench.opts.seconds,
        window: [T0, T1],
        stub: tickStats(hitsOf(hits, 'floor'), jobs, T0, T1),
        resources,
      };
    }),
  );
}
