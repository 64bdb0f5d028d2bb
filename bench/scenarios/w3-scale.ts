// W3 scale: N hourly jobs loaded. Cold start, memory (settled and after a full GC), idle CPU, and how soon a job
// changed to every second runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../test/support/wait';
import { apiFetch } from '../lib/api';
import type { Attempt, Bench } from '../lib/bench';
import { withBull } from '../lib/bullmq';
import { sleep } from '../lib/clock';
import { withGocron } from '../lib/gocron-setup';
import { jobRows } from '../lib/ledger-db';
import { GocronMode, isGocronMode, System } from '../lib/options';
import type { BenchProcess } from '../lib/processes';
import { memKb, Resources, sampler, ServicePids, servicesFor } from '../lib/sampling';
import { round1 } from '../lib/stats';
import { dumpStub, withStub } from '../lib/stub';
import { redisUsedMemory } from '../lib/redis';

const HOURLY = '0 0 * * * *';
const EVERY_SECOND = '* * * * * *';

export interface W3GocronResult {
  system: GocronMode;
  jobs: number;
  insertMs: number;
  coldStart: { healthMs: number; schedulingLogMs: number; loadedInMs: number | null; scheduledCount: number };
  rssMB: number | null;
  hwmMB: number | null;
  heapUsedMB: number | null;
  heapTotalMB: number | null;
  beforeGc: { rssMB: number | null; heapUsedMB: number | null };
  rssPerJobKB: number | null;
  heapPerJobKB: number | null;
  idle: Resources;
  patch: {
    status: number;
    patchMs: number;
    nextRunAt: string | undefined;
    nextRunInMs: number | null;
    firstRunStartedAfterMs: number | null;
    firstRunLagMs: number | null;
  };
}

export interface W3BullResult {
  system: Extract<System, 'bullmq'>;
  jobs: number;
  createMs: number;
  redisBytesPerJob: number;
  redisDeltaMB: number | null;
  workerColdStartMs: number;
  workerRssMB: number | null;
  idle: Resources;
  patch: { patchMs: number; firstRunStartedAfterMs: number | null; firstRunLagMs: number | null };
}

export type W3Result = W3GocronResult | W3BullResult;

export function w3Attempts(bench: Bench): Attempt<W3Result>[] {
  return bench.opts.w3Sizes.flatMap((n) =>
    bench.opts.systems.flatMap(
      (sys): Attempt<W3Result>[] =>
        sys === 'bullmq'
          ? [{ label: `W3 bullmq ${n}`, run: () => w3Bull(bench, n) }]
          : isGocronMode(sys)
            ? [{ label: `W3 ${sys} ${n}`, run: () => w3Gocron(bench, sys, n) }]
            : [], // the floor has nothing to load
    ),
  );
}

/** Idle cost with N jobs loaded: CPU over 10 s (reconcile, timers), 3 s after everything is up. */
async function idleCost(bench: Bench, procs: BenchProcess[], services: ServicePids): Promise<Resources> {
  await sleep(3000);
  const smp = sampler(bench.work, procs, services);
  await sleep(10_000);
  return smp.stop();
}

/** What bench/probe.js writes: process.memoryUsage() at `t`, `gc` after a full GC on SIGUSR2. */
interface ProbeReading {
  t: number;
  gc?: boolean;
  heapUsed: number;
  heapTotal: number;
}

const readProbe = (file: string): ProbeReading => JSON.parse(readFileSync(file, 'utf8')) as ProbeReading;

function w3Gocron(bench: Bench, mode: GocronMode, jobs: number): Promise<W3GocronResult> {
  const tag = `w3-${mode}-${jobs}`;
  const probe = bench.work.file(`probe-${tag}.json`);
  return withStub(bench, tag, (stub) =>
    withGocron(bench, mode, tag, async (g) => {
      await g.migrate();
      const rows = jobRows(jobs, 'w3', HOURLY, `${stub.url}/`);
      const ti = Date.now();
      await g.db.insertJobs(rows);
      const insertMs = Date.now() - ti;
      rows.length = 0;
      const ex = g.startExecutor();
      const d = g.startDispatcher(['--expose-gc', '-r', join(__dirname, '..', 'probe.js')], {
        BENCH_PROBE_FILE: probe,
      });
      const t0 = d.spawnedAt;
      const logP = d.waitForOutput(/scheduling (\d+) enabled job\(s\)(?:, loaded in (\d+) ms)?/, 300_000);
      logP.catch(() => {});
      const healthAt = await waitFor(async () => (await g.health()) && Date.now(), {
        timeoutMs: 300_000,
        intervalMs: 10,
        what: 'dispatcher health',
      });
      const { at: logAt, match: m } = await logP;
      await g.waitExecutors();
      const idle = await idleCost(bench, [d, ex], servicesFor(mode));
      const memBeforeGc = memKb(d.pid);
      let heapBeforeGc: ProbeReading | null = null;
      try {
        heapBeforeGc = readProbe(probe);
      } catch {
        // no probe
      }
      // retained figures: the probe runs a full GC on SIGUSR2 and writes memoryUsage() right after
      const beforeSignal = Date.now();
      d.signal('SIGUSR2');
      let heap = heapBeforeGc;
      await waitFor(
        () => {
          const h = readProbe(probe);
          if (h.gc && h.t >= beforeSignal) return (heap = h);
          return null;
        },
        { timeoutMs: 10_000, intervalMs: 50, what: 'probe after GC' },
      ).catch(() => null);
      await sleep(200);
      const mem = memKb(d.pid);
      // a job update: PATCH job 1 to every second; when does it run?
      const [{ id: jobId }] = await g.db.all<{ id: number }>(`SELECT MIN(id) AS id FROM jobs`);
      const tp = Date.now();
      const resp = await apiFetch(g.base, `/api/jobs/${jobId}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ cron: EVERY_SECOND }),
      });
      const patchMs = Date.now() - tp;
      const answer = (await resp.json()) as { nextRunAt?: string };
      const first = await waitFor(
        async () => {
          const r = await g.db.all<{ scheduled_at: number | string; started_at: number | string }>(
            `SELECT scheduled_at, started_at FROM runs WHERE job_id = ? AND started_at IS NOT NULL ORDER BY scheduled_at LIMIT 1`,
            [jobId],
          );
          return r.length ? r[0] : null;
        },
        { timeoutMs: 30_000, intervalMs: 25, what: 'first run after PATCH' },
      ).catch(() => null);
      return {
        system: mode,
        jobs,
        insertMs,
        coldStart: {
          healthMs: healthAt - t0,
          schedulingLogMs: logAt - t0,
          loadedInMs: m[2] ? Number(m[2]) : null,
          scheduledCount: Number(m[1]),
        },
        rssMB: round1(mem.rss / 1024),
        hwmMB: round1(mem.hwm / 1024),
        heapUsedMB: heap ? round1(heap.heapUsed / 1048576) : null,
        heapTotalMB: heap ? round1(heap.heapTotal / 1048576) : null,
        beforeGc: {
          rssMB: round1(memBeforeGc.rss / 1024),
          heapUsedMB: heapBeforeGc ? round1(heapBeforeGc.heapUsed / 1048576) : null,
        },
        rssPerJobKB: round1(mem.rss / jobs),
        heapPerJobKB: heap ? round1(heap.heapUsed / 1024 / jobs) : null,
        idle,
        patch: {
          status: resp.status,
          patchMs,
          nextRunAt: answer.nextRunAt,
          nextRunInMs: answer.nextRunAt ? Date.parse(answer.nextRunAt) - tp : null,
          firstRunStartedAfterMs: first ? Number(first.started_at) - tp : null,
          firstRunLagMs: first ? Number(first.started_at) - Number(first.scheduled_at) : null,
        },
      };
    }),
  );
}

function w3Bull(bench: Bench, jobs: number): Promise<W3BullResult> {
  return withStub(bench, `w3-bullmq-${jobs}`, (stub) =>
    withBull(bench, `bench-bull-${bench.runId}-w3-${jobs}`, async (b) => {
      const mem0 = await redisUsedMemory();
      const t0 = Date.now();
      await b.schedule(jobs, 200, 'w3', HOURLY);
      const createMs = Date.now() - t0;
      const mem1 = await redisUsedMemory();
      const { worker, readyAt } = await b.startWorker(`bullmq-worker-w3-${jobs}`, { STUB_URL: stub.url }, 60_000);
      const idle = await idleCost(bench, [worker], servicesFor('bullmq'));
      const wm = memKb(worker.pid);
      await dumpStub(stub);
      const tp = Date.now();
      await b.scheduleOne('w3-0', EVERY_SECOND);
      const patchMs = Date.now() - tp;
      const hit = await waitFor(async () => (await dumpStub(stub)).find((x) => x.key === 'bw3-0') ?? null, {
        timeoutMs: 30_000,
        intervalMs: 25,
        what: 'BullMQ first run after update',
      }).catch(() => null);
      return {
        system: 'bullmq',
        jobs,
        createMs,
        redisBytesPerJob: Math.round((mem1 - mem0) / jobs),
        redisDeltaMB: round1((mem1 - mem0) / 1048576),
        workerColdStartMs: readyAt - worker.spawnedAt,
        workerRssMB: round1(wm.rss / 1024),
        idle,
        patch: {
          patchMs,
          firstRunStartedAfterMs: hit ? hit.start - tp : null,
          firstRunLagMs: hit ? hit.start - hit.sched : null,
        },
      };
    }),
  );
}
