// W7 soak: --w7-rate HTTP jobs every second for --w7-minutes (default 200 for 30 minutes) on each gocron-ts setup:
// the RSS of every process sampled each minute (is there growth after the first 5 minutes?), and the ledger's
// account of every tick: none missed, none run twice. --w7-parallel runs both setups at once.
import type { Attempt, Bench } from '../lib/bench';
import { log } from '../lib/bench';
import { sleepUntil } from '../lib/clock';
import type { GocronSetup } from '../lib/gocron-setup';
import { withGocron } from '../lib/gocron-setup';
import { jobRows } from '../lib/ledger-db';
import { GocronMode, isGocronMode } from '../lib/options';
import type { BenchProcess } from '../lib/processes';
import { memKb, Resources, servicesFor } from '../lib/sampling';
import { round1, TickRecord, TickStats, tickStats } from '../lib/stats';
import { SteadyLedger, steadyLedger, steadyWindow } from '../lib/steady';
import { dumpStub, hitsOf, withStub } from '../lib/stub';

const EVERY_SECOND = '* * * * * *';
const SAMPLE_MS = 60_000;
/** Growth is measured from the sample at this minute (from half the soak when it is shorter than twice that). */
const BASE_MINUTE = 5;
const GROWTH_GOAL_PCT = 10;

export interface RssSeries {
  name: string;
  /** VmRSS in MB at minute 0, 1, 2, … of the window (null: the process was gone). */
  samplesMB: (number | null)[];
  baseMinute: number;
  baseMB: number | null;
  finalMB: number | null;
  /** The largest sample from baseMinute on. */
  maxMB: number | null;
  finalGrowthPct: number | null;
  maxGrowthPct: number | null;
  /** No sample after baseMinute more than GROWTH_GOAL_PCT above it. */
  withinGoal: boolean;
}

export interface SoakChecks {
  expectedTicks: number;
  /** Expected ticks with no row at all in the ledger. */
  absentTicks: number;
  /** Ticks with a row that never started (still pending, or failed before a start). */
  notStarted: number;
  /** Rows with status `missed` (the sweeper's record of a tick no dispatcher claimed). */
  missedStatus: number;
  /** Rows of trigger `misfire`: ranges of ticks dropped by the misfire policy. */
  misfireRecords: number;
  /** (job_id, tick_key, attempt, executor_key) with more than one row: impossible by the unique key; counted anyway. */
  duplicateKeys: number;
  /** (job, tick) with more than one run started, any trigger but manual. */
  multiStartTicks: number;
}

export interface W7Result {
  system: GocronMode;
  jobs: number;
  minutes: number;
  /** Run at the same time as the other setup (--w7-parallel). */
  parallel: boolean;
  window: [number, number];
  rss: RssSeries[];
  stubRss: RssSeries;
  ledger: SteadyLedger;
  checks: SoakChecks;
  stub: TickStats;
  statuses: Record<string, number>;
  resources: Resources;
}

export function w7Attempts(bench: Bench): Attempt<W7Result>[] {
  const modes = bench.opts.systems.filter(isGocronMode);
  if (bench.opts.systems.includes('bullmq')) log('W7: gocron-ts only (the soak reads the run ledger); bullmq skipped');
  const label = (mode: GocronMode): string =>
    `W7 ${mode} ${bench.opts.w7Rate}/s for ${bench.opts.w7Minutes} min${bench.opts.w7Parallel ? ' (parallel)' : ''}`;
  if (!bench.opts.w7Parallel || modes.length < 2) {
    return modes.map((mode) => ({ label: label(mode), run: () => w7Gocron(bench, mode, false) }));
  }
  // Both soaks start with the first attempt; each attempt answers with its own. (A rejection of the second is
  // observed when its attempt awaits it.)
  let started: Map<GocronMode, Promise<W7Result>> | null = null;
  const soak = (mode: GocronMode): Promise<W7Result> => {
    if (!started) {
      started = new Map(modes.map((m) => [m, w7Gocron(bench, m, true)]));
      for (const p of started.values()) p.catch(() => {});
    }
    return started.get(mode) as Promise<W7Result>;
  };
  return modes.map((mode) => ({ label: label(mode), run: () => soak(mode) }));
}

function w7Gocron(bench: Bench, mode: GocronMode, parallel: boolean): Promise<W7Result> {
  const { w7Rate: rate, w7Minutes: minutes } = bench.opts;
  const tag = `w7-${mode}-${rate}`;
  return withStub(bench, tag, (stub) =>
    withGocron(bench, mode, tag, async (g) => {
      await g.migrate();
      await g.db.insertJobs(jobRows(rate, 'w7', EVERY_SECOND, `${stub.url}/`));
      const { dispatchers, executors } = await g.up();
      const apps = [...dispatchers, ...executors];
      const hits: TickRecord[] = [];
      const samples = new Map<BenchProcess, (number | null)[]>([...apps, stub.proc].map((p) => [p, []]));
      let sampling: Promise<void> = Promise.resolve();
      // each minute: every process's RSS, and the stub's records so far (so that its memory is its own, not theirs)
      const everyMinute = async (T0: number, T1: number): Promise<void> => {
        for (let t = T0; t <= T1; t += SAMPLE_MS) {
          await sleepUntil(t);
          for (const [p, xs] of samples) xs.push(p.dead ? null : round1(memKb(p.pid).rss / 1024));
          if (t > T0) hits.push(...(await dumpStub(stub)));
        }
      };
      const { T0, T1, resources } = await steadyWindow(bench, [...apps, stub.proc], servicesFor(mode), {
        seconds: minutes * 60,
        atStart: async (t0, t1) => {
          await dumpStub(stub);
          sampling = everyMinute(t0, t1);
        },
        atEnd: () => sampling,
      });
      hits.push(...(await dumpStub(stub)));
      const steady = await steadyLedger(g, rate, T0, T1);
      return {
        system: mode,
        jobs: rate,
        minutes,
        parallel,
        window: [T0, T1],
        rss: apps.map((p) => rssSeries(p.name, samples.get(p) ?? [], minutes)),
        stubRss: rssSeries(stub.proc.name, samples.get(stub.proc) ?? [], minutes),
        ledger: steady.ledger,
        checks: await soakChecks(g, steady, T0, T1),
        stub: tickStats(hitsOf(hits, 'gocron'), rate, T0, T1),
        statuses: steady.statuses,
        resources,
      };
    }),
  );
}

function rssSeries(name: string, samplesMB: (number | null)[], minutes: number): RssSeries {
  const baseMinute = Math.min(BASE_MINUTE, Math.floor(minutes / 2));
  const base = samplesMB[baseMinute] ?? null;
  const after = samplesMB.slice(baseMinute).filter((x): x is number => x !== null);
  const finalMB = samplesMB.length ? samplesMB[samplesMB.length - 1] : null;
  const maxMB = after.length ? Math.max(...after) : null;
  const growth = (x: number | null): number | null => (x === null || !base ? null : round1((x / base - 1) * 100));
  const maxGrowthPct = growth(maxMB);
  return {
    name,
    samplesMB,
    baseMinute,
    baseMB: base,
    finalMB,
    maxMB,
    finalGrowthPct: growth(finalMB),
    maxGrowthPct,
    withinGoal: maxGrowthPct !== null && maxGrowthPct <= GROWTH_GOAL_PCT && !samplesMB.includes(null),
  };
}

/** The ledger's account of the window's ticks, beyond steadyLedger's: what is absent, missed, dropped or doubled. */
async function soakChecks(
  g: GocronSetup,
  steady: Awaited<ReturnType<typeof steadyLedger>>,
  T0: number,
  T1: number,
): Promise<SoakChecks> {
  const { db } = g;
  const trigger = db.q('trigger');
  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await db.all<{ n: number | string }>(sql, params))[0].n);
  const expectedTicks = steady.ledger.expected;
  const withRow = new Set(steady.dbRows.map((r) => `${r.job_id}@${r.scheduled_at}`)).size;
  const absentTicks = Math.max(0, expectedTicks - withRow);
  return {
    expectedTicks,
    absentTicks,
    notStarted: Math.max(0, expectedTicks - steady.ledger.started - absentTicks),
    missedStatus: steady.statuses.missed ?? 0,
    misfireRecords: await count(
      `SELECT COUNT(*) AS n FROM runs WHERE ${trigger} = 'misfire' AND scheduled_at >= ? AND scheduled_at < ?`,
      [T0, T1 + 60_000],
    ),
    duplicateKeys: await count(
      `SELECT COUNT(*) AS n FROM (SELECT job_id FROM runs ` +
        `GROUP BY job_id, tick_key, attempt, executor_key HAVING COUNT(*) > 1) x`,
    ),
    multiStartTicks: await count(
      `SELECT COUNT(*) AS n FROM (SELECT job_id FROM runs WHERE started_at IS NOT NULL AND ${trigger} <> 'manual' ` +
        `AND scheduled_at >= ? AND scheduled_at < ? GROUP BY job_id, scheduled_at HAVING COUNT(*) > 1) x`,
      [T0, T1],
    ),
  };
}
