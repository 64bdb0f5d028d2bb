// The steady scenarios' measuring window (W1, W4, W5) and the ledger's view of it.
import type { Bench } from './bench';
import { sleep, sleepUntil, wholeSecondAfter } from './clock';
import type { GocronSetup } from './gocron-setup';
import type { BenchProcess } from './processes';
import { Resources, sampler, ServicePids } from './sampling';
import { LagStats, lagStats, TickStats, tickStats } from './stats';

export interface SteadyWindow {
  T0: number;
  T1: number;
  resources: Resources;
}

/** Grace after the window: late runs of the window still count, with their lag. */
const LATE_RUNS_MS = 5000;

/**
 * Waits for the window [T0, T1): it starts on a whole second after the warm-up (at least 3 s) and lasts --seconds
 * (or `hooks.seconds`: W7's soak). `procs` and `services` are sampled over it; `atStart` runs at T0 (it is told the
 * window) before sampling starts, `atEnd` right after it stops, before the grace period for late runs.
 */
export async function steadyWindow(
  bench: Bench,
  procs: BenchProcess[],
  services: ServicePids,
  hooks: {
    atStart?: (T0: number, T1: number) => Promise<unknown>;
    atEnd?: () => Promise<unknown>;
    seconds?: number;
  } = {},
): Promise<SteadyWindow> {
  const T0 = wholeSecondAfter(Math.max(3, bench.opts.warmup));
  const T1 = T0 + (hooks.seconds ?? bench.opts.seconds) * 1000;
  await sleepUntil(T0);
  if (hooks.atStart) await hooks.atStart(T0, T1);
  const smp = sampler(bench.work, procs, services);
  await sleepUntil(T1);
  const resources = smp.stop();
  if (hooks.atEnd) await hooks.atEnd();
  await sleep(LATE_RUNS_MS);
  return { T0, T1, resources };
}

export interface SteadyLedger extends TickStats {
  duplicatedRows: number;
  /** Tick → row inserted by the dispatcher (claim). */
  claimLag: LagStats;
  /** Row inserted → executor start (offer, gRPC, compare-and-set). */
  offerToStart: LagStats;
}

/** A row of `runs` as steadyLedger selects it (scenarios add their own columns). */
export interface RunRow {
  job_id: number | string;
  scheduled_at: number | string;
  created_at: number | string;
  started_at: number | string | null;
  status: string;
}

/**
 * The ledger's view of a steady window: rows of scheduled ticks in [T0, T1), their lag (started − scheduled),
 * missed and duplicated ticks, duplicated rows, and where the lag goes. `extraCols` are selected too (dbRows).
 * `afterId`: only rows with a greater id are read (W6: the prefilled history is not scanned for the window's rows).
 */
export async function steadyLedger<R extends RunRow = RunRow>(
  g: GocronSetup,
  jobs: number,
  T0: number,
  T1: number,
  extraCols: (keyof R & string)[] = [],
  afterId = 0,
): Promise<{ ledger: SteadyLedger; statuses: Record<string, number>; dbRows: R[] }> {
  const { db } = g;
  const t = db.q('trigger');
  const cols = ['job_id', 'scheduled_at', 'created_at', 'started_at', 'status', ...extraCols].map(db.q).join(', ');
  const dbRows = await db.all<R>(
    `SELECT ${cols} FROM runs WHERE id > ? AND ${t} = 'schedule' AND scheduled_at >= ? AND scheduled_at < ?`,
    [afterId, T0, T1],
  );
  const statuses: Record<string, number> = {};
  for (const r of dbRows) statuses[r.status] = (statuses[r.status] || 0) + 1;
  const started = dbRows.filter((r) => r.started_at != null);
  const ticks = tickStats(
    started.map((r) => ({ key: String(r.job_id), sched: Number(r.scheduled_at), start: Number(r.started_at) })),
    jobs,
    T0,
    T1,
  );
  // run rows beyond one per tick would be duplicates in the ledger
  const keys = new Set(dbRows.map((r) => `${r.job_id}@${r.scheduled_at}`));
  const ledger: SteadyLedger = {
    ...ticks,
    duplicatedRows: dbRows.length - keys.size,
    claimLag: lagStats(started.map((r) => Number(r.created_at) - Number(r.scheduled_at))),
    offerToStart: lagStats(started.map((r) => Number(r.started_at) - Number(r.created_at))),
  };
  return { ledger, statuses, dbRows };
}
