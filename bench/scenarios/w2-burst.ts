// W2 burst: N jobs due the same second; how long until all of them started.
import { waitFor } from '../../test/support/wait';
import type { Attempt, Bench } from '../lib/bench';
import { withBull } from '../lib/bullmq';
import { sleep, sleepUntil, wholeSecondAfter } from '../lib/clock';
import { withFloor } from '../lib/floor';
import { PLAIN, SetupVariant, variantTag, withGocron } from '../lib/gocron-setup';
import { jobRows } from '../lib/ledger-db';
import type { GocronMode, System } from '../lib/options';
import type { BenchProcess } from '../lib/processes';
import { Resources, sampler, servicesFor } from '../lib/sampling';
import { BurstStats, burstStats, LagStats, lagStats, TickRecord } from '../lib/stats';
import { dumpStub, hitsOf, Stub, withStub } from '../lib/stub';

export interface W2Result {
  system: System;
  jobs: number;
  at: number;
  ledger?: BurstStats & { claimLag: LagStats };
  stub: BurstStats;
  resources: Resources;
}

export function w2Attempts(bench: Bench): Attempt<W2Result>[] {
  const n = bench.opts.w2Jobs;
  return bench.opts.systems.map((sys) =>
    sys === 'bullmq'
      ? { label: `W2 bullmq ${n}`, run: () => w2Bull(bench, n) }
      : sys === 'floor'
        ? { label: `W2 floor ${n}`, run: () => w2Floor(bench, n) }
        : { label: `W2 ${sys} ${n}`, run: () => w2Gocron(bench, sys, n) },
  );
}

/** A cron for exactly one instant today (UTC): `s m h * * *`. */
export function cronAt(t: number): string {
  const d = new Date(t);
  return `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} * * *`;
}

/** The burst instant: far enough ahead for the jobs to be created and picked up (gocron-ts reconciles every 1 s). */
const burstInstant = (): number => wholeSecondAfter(15);

interface BurstRow {
  job_id: number | string;
  scheduled_at: number | string;
  created_at: number | string;
  started_at: number | string;
}

export function w2Gocron(bench: Bench, mode: GocronMode, jobs: number, v: SetupVariant = PLAIN): Promise<W2Result> {
  const tag = variantTag('w2', mode, v, jobs);
  return withStub(bench, tag, (stub) =>
    withGocron(bench, mode, tag, async (g) => {
      await g.migrate();
      const { dispatchers, executors } = await g.up();
      const [d, ex] = [dispatchers[0], executors[0]];
      const at = burstInstant();
      await g.db.insertJobs(jobRows(jobs, 'w2', cronAt(at), `${stub.url}/`));
      await waitFor(
        async () => Number((await g.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM jobs'))[0].n) >= jobs,
        {
          timeoutMs: 10_000,
          intervalMs: 20,
          what: 'rows',
        },
      );
      await sleepUntil(at - 1000);
      const smp = sampler(bench.work, [d, ex, stub.proc], { ...servicesFor(mode), ...v.services });
      const startedSql = `SELECT COUNT(*) AS n FROM runs WHERE scheduled_at = ? AND started_at IS NOT NULL`;
      await waitFor(async () => Number((await g.db.all<{ n: number }>(startedSql, [at]))[0].n) >= jobs, {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: 'burst started',
      }).catch(() => null);
      const resources = smp.stop();
      await sleep(1000);
      const hits = await dumpStub(stub);
      const dbRows = await g.db.all<BurstRow>(
        `SELECT job_id, scheduled_at, created_at, started_at FROM runs WHERE scheduled_at = ? AND started_at IS NOT NULL`,
        [at],
      );
      const records: TickRecord[] = dbRows.map((r) => ({
        key: String(r.job_id),
        sched: Number(r.scheduled_at),
        start: Number(r.started_at),
      }));
      const ledger = {
        ...burstStats(records, jobs, at),
        claimLag: lagStats(dbRows.map((r) => Number(r.created_at) - at)),
      };
      const stubStats = burstStats(hitsOf(hits, 'gocron'), jobs, at);
      return { system: mode, jobs, at, ledger, stub: stubStats, resources };
    }, v.env),
  );
}

function w2Bull(bench: Bench, jobs: number): Promise<W2Result> {
  return withStub(bench, `w2-bullmq-${jobs}`, (stub) =>
    withBull(bench, `bench-bull-${bench.runId}-w2-${jobs}`, async (b) => {
      const { worker } = await b.startWorker(`bullmq-worker-w2-${jobs}`, { STUB_URL: stub.url }, 30_000);
      const at = burstInstant();
      await b.schedule(jobs, 200, 'w2', cronAt(at));
      const { hits, resources } = await stubBurst(bench, stub, [worker, stub.proc], jobs, at, 'bullmq');
      return { system: 'bullmq', jobs, at, stub: burstStats(hitsOf(hits, 'bullmq'), jobs, at), resources };
    }),
  );
}

/** The floor: a bare keep-alive client sending the burst's GETs at once at its instant, to a stub of its own. */
function w2Floor(bench: Bench, jobs: number): Promise<W2Result> {
  const at = burstInstant();
  const env = { FLOOR_MODE: 'http', FLOOR_JOBS: String(jobs), FLOOR_AT: String(at) };
  return withStub(bench, `w2-floor-${jobs}`, (stub) =>
    withFloor(bench, `floor-w2-${jobs}`, { ...env, STUB_URL: stub.url }, async (floor) => {
      const { hits, resources } = await stubBurst(bench, stub, [floor, stub.proc], jobs, at, 'floor');
      return { system: 'floor', jobs, at, stub: burstStats(hitsOf(hits, 'floor'), jobs, at), resources };
    }),
  );
}

/**
 * A burst seen from the stub alone (BullMQ, the floor): `procs` sampled from a second before `at` until every job's
 * request arrived (at most 60 s), the stub's records collected meanwhile.
 */
async function stubBurst(
  bench: Bench,
  stub: Stub,
  procs: BenchProcess[],
  jobs: number,
  at: number,
  system: 'bullmq' | 'floor',
): Promise<{ hits: TickRecord[]; resources: Resources }> {
  await sleepUntil(at - 1000);
  await dumpStub(stub);
  const smp = sampler(bench.work, procs, servicesFor(system));
  let hits: TickRecord[] = [];
  await waitFor(
    async () => {
      hits = hits.concat(await dumpStub(stub));
      return new Set(hits.filter((h) => h.sched === at).map((h) => h.key)).size >= jobs;
    },
    { timeoutMs: 60_000, intervalMs: 250, what: `${system} burst started` },
  ).catch(() => null);
  return { hits, resources: smp.stop() };
}
