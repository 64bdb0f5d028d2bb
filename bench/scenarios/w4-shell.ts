// W4 shell: N jobs every second running `true`: spawn cost and lag. --w4-stamp adds a gocron-ts (and floor) variant
// running `date +%s%3N`, whose output dates the command's own start. The floor: bench/floor.js spawning the command.
import { existsSync, readFileSync } from 'node:fs';
import type { Attempt, Bench } from '../lib/bench';
import { withBull } from '../lib/bullmq';
import { withFloor } from '../lib/floor';
import { withGocron } from '../lib/gocron-setup';
import { jobRows } from '../lib/ledger-db';
import type { GocronMode, System } from '../lib/options';
import type { BenchProcess } from '../lib/processes';
import { Resources, servicesFor } from '../lib/sampling';
import { RunRow, SteadyLedger, steadyLedger, SteadyWindow, steadyWindow } from '../lib/steady';
import { LagStats, lagStats, round3, TickStats, tickStats } from '../lib/stats';

export interface SpawnCost {
  runs: number;
  /** The spawning process's own CPU and, for gocron-ts, its spawn helper's: executor and helper together. */
  cpuMsPerRun: number | null;
  /** The tasks' own CPU (reaped children: of the helper for gocron-ts). */
  childCpuMsPerRun: number | null;
  /** gocron-ts: the spawn helper's own share of cpuMsPerRun. */
  helperCpuMsPerRun?: number | null;
}

export interface W4Result {
  system: System;
  jobs: number;
  command: string;
  seconds: number;
  window: [number, number];
  ledger?: SteadyLedger;
  statuses?: Record<string, number>;
  /** BullMQ's worker or the floor's loop: its clock at spawn − the tick. */
  worker?: TickStats;
  exitCodes?: Record<string, number>;
  duration: LagStats;
  spawn: SpawnCost;
  dispatcherCpuMsPerRun?: number | null;
  createMs?: number;
  resources: Resources;
  commandLag?: LagStats;
  startedToCommand?: LagStats;
}

export function w4Attempts(bench: Bench): Attempt<W4Result>[] {
  const n = bench.opts.w4Jobs;
  return bench.opts.systems.flatMap((sys): Attempt<W4Result>[] => {
    if (sys === 'bullmq') return [{ label: `W4 bullmq ${n}`, run: () => w4Bull(bench, n) }];
    const run = (stamp: boolean): Promise<W4Result> =>
      sys === 'floor' ? w4Floor(bench, n, stamp) : w4Gocron(bench, sys, n, stamp);
    const attempts = [{ label: `W4 ${sys} ${n}`, run: () => run(false) }];
    if (bench.opts.w4Stamp) {
      attempts.push({ label: `W4 ${sys} ${n} (date stamp)`, run: () => run(true) });
    }
    return attempts;
  });
}

/** The headline runs `true`; the stamp variant prints the command's own start (ms), kept in runs.output. */
const commandOf = (stamp: boolean): string => (stamp ? 'date +%s%3N' : 'true');

/** The command's own start, as the stamp variant prints it (null for other output). */
function stampOf(output: string | null | undefined): number | null {
  const t = Number((output || '').trim());
  return t > 1e12 ? t : null;
}

interface ShellRunRow extends RunRow {
  duration_ms: number | string | null;
  /** Selected by the stamp variant only. */
  output?: string | null;
}

/** Executor (or BullMQ worker, or floor) CPU per run started in the window: the spawn cost. */
function spawnCost(res: Resources, proc: BenchProcess, runs: number): SpawnCost {
  const p = res.procs.find((x) => x.name === proc.name);
  if (!p || p.cpuSec == null || !runs) return { runs, cpuMsPerRun: null, childCpuMsPerRun: null };
  const per = (sec: number) => round3((sec * 1000) / runs);
  const helper = p.helperCpuSec ?? 0;
  return {
    runs,
    cpuMsPerRun: per(p.cpuSec + helper),
    childCpuMsPerRun: p.childCpuSec == null ? null : per(p.childCpuSec + (p.helperChildCpuSec ?? 0)),
    ...(p.helperCpuSec != null && { helperCpuMsPerRun: per(helper) }),
  };
}

function w4Gocron(bench: Bench, mode: GocronMode, jobs: number, stamp = false): Promise<W4Result> {
  const command = commandOf(stamp);
  const tag = `w4-${mode}-${jobs}${stamp ? '-stamp' : ''}`;
  return withGocron(bench, mode, tag, async (g) => {
    await g.migrate();
    await g.db.insertJobs(jobRows(jobs, 'w4', '* * * * * *', null, command));
    const { dispatchers, executors } = await g.up();
    const [d, ex] = [dispatchers[0], executors[0]];
    const { T0, T1, resources } = await steadyWindow(bench, [d, ex], servicesFor(mode));
    const extra: (keyof ShellRunRow)[] = stamp ? ['duration_ms', 'output'] : ['duration_ms'];
    const { ledger, statuses, dbRows } = await steadyLedger<ShellRunRow>(g, jobs, T0, T1, extra);
    const [{ n }] = await g.db.all<{ n: number }>(
      `SELECT COUNT(*) AS n FROM runs WHERE started_at >= ? AND started_at < ?`,
      [T0, T1],
    );
    const done = dbRows.filter((r) => r.duration_ms != null);
    const r: W4Result = {
      system: mode,
      jobs,
      command,
      seconds: bench.opts.seconds,
      window: [T0, T1],
      ledger,
      statuses,
      duration: lagStats(done.map((x) => Number(x.duration_ms))),
      spawn: spawnCost(resources, ex, Number(n)),
      dispatcherCpuMsPerRun: spawnCost(resources, d, Number(n)).cpuMsPerRun,
      resources,
    };
    if (stamp) {
      const stamped = dbRows
        .map((x) => ({ x, t: stampOf(x.output) ?? 0 }))
        .filter(({ x, t }) => x.started_at != null && t);
      r.commandLag = lagStats(stamped.map(({ x, t }) => t - Number(x.scheduled_at))); // tick → command runs
      r.startedToCommand = lagStats(stamped.map(({ x, t }) => t - Number(x.started_at))); // ledger start → command runs
    }
    return r;
  });
}

/**
 * A line of a spawning loop's records (the BullMQ worker's BULL_RECORD_FILE, the floor's FLOOR_RECORD_FILE):
 * [spawnMs, name, scheduledMs, exitMs, code, stdout (the floor only)].
 */
type SpawnRecord = [number, string, number, number, number | string, string?];

/**
 * W4 as a spawning loop recorded it in `file`: lag = its clock at spawn − the tick, over the window `w`; for the
 * stamp command (the floor's), also the command's own start − the tick, and − the spawn.
 */
function spawnerResult(
  bench: Bench,
  system: 'bullmq' | 'floor',
  proc: BenchProcess,
  file: string,
  jobs: number,
  command: string,
  w: SteadyWindow,
): W4Result {
  const { T0, T1, resources } = w;
  const recs = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as SpawnRecord)
    : [];
  const inWin = recs.filter((x) => x[2] >= T0 && x[2] < T1);
  const codes: Record<string, number> = {};
  for (const x of inWin) codes[x[4]] = (codes[x[4]] || 0) + 1;
  const stamped = command === commandOf(true) ? inWin.filter((x) => stampOf(x[5]) != null) : [];
  const r: W4Result = {
    system,
    jobs,
    command,
    seconds: bench.opts.seconds,
    window: [T0, T1],
    worker: tickStats(
      recs.map((x) => ({ key: x[1], sched: x[2], start: x[0] })),
      jobs,
      T0,
      T1,
    ),
    exitCodes: codes,
    duration: lagStats(inWin.map((x) => x[3] - x[0])),
    spawn: spawnCost(resources, proc, recs.filter((x) => x[0] >= T0 && x[0] < T1).length),
    resources,
  };
  if (stamped.length) {
    r.commandLag = lagStats(stamped.map((x) => (stampOf(x[5]) ?? 0) - x[2]));
    r.startedToCommand = lagStats(stamped.map((x) => (stampOf(x[5]) ?? 0) - x[0]));
  }
  return r;
}

function w4Bull(bench: Bench, jobs: number): Promise<W4Result> {
  const tag = `w4-bullmq-${jobs}`;
  const records = bench.work.file(`${tag}.records`);
  return withBull(bench, `bench-bull-${bench.runId}-w4-${jobs}`, async (b) => {
    const { worker } = await b.startWorker(
      `bullmq-worker-w4-${jobs}`,
      { BULL_MODE: 'spawn', BULL_RECORD_FILE: records },
      30_000,
    );
    const t0 = Date.now();
    await b.schedule(jobs, 100, 'w4', '* * * * * *');
    const createMs = Date.now() - t0;
    const w = await steadyWindow(bench, [worker], servicesFor('bullmq'));
    await worker.stop(); // flushes its records
    return { ...spawnerResult(bench, 'bullmq', worker, records, jobs, 'true', w), createMs };
  });
}

/**
 * The floor: a bare loop in a small Node process spawning `/bin/sh -c <command>` for each job at each whole second
 * and waiting for its exit; the stamp variant's output dates the command's start as gocron-ts's does.
 */
function w4Floor(bench: Bench, jobs: number, stamp = false): Promise<W4Result> {
  const command = commandOf(stamp);
  const name = `floor-w4-${jobs}${stamp ? '-stamp' : ''}`;
  const records = bench.work.file(`${name}.records`);
  const env = { FLOOR_MODE: 'spawn', FLOOR_JOBS: String(jobs), FLOOR_COMMAND: command, FLOOR_RECORD_FILE: records };
  return withFloor(bench, name, env, async (floor) => {
    const w = await steadyWindow(bench, [floor], servicesFor('floor'));
    await floor.stop(); // flushes its records
    return spawnerResult(bench, 'floor', floor, records, jobs, command, w);
  });
}
