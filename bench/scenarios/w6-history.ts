// W6 history: W1 at --w6-rate HTTP jobs/s with a dashboard open, beside a run ledger prefilled with 30 days of
// history over 1,000 jobs (--w6-rows: 10 million runs on the cluster setup, 2 million embedded), and the same run on
// an empty ledger: lag (ledger and stub) and API latency with history over without, and how long the fill took.
//
// Per setup and ledger: one dispatcher start migrates the schema; the 1,000 jobs go in as rows (bench/lib/history.ts:
// paused `@every` jobs, each one's history exactly its schedule's ticks), the first --w6-rate of them HTTP jobs
// switched to every second (W1's jobs: the same jobs as the history's, so their claims land among their own rows in
// every index); the history goes in with multi-row INSERTs (none for the empty ledger: same jobs, no runs); then the
// system starts again, and while W1 runs a dashboard is open: `GET /api/events` kept reading, and `GET
// /api/runs?limit=50` and `GET /api/jobs?limit=50` each polled every second, timed to the last byte.
import { Attempt, Bench, log } from '../lib/bench';
import { DashboardReadings, RunEventSample, startDashboardLoad } from '../lib/dashboard-load';
import type { GocronSetup } from '../lib/gocron-setup';
import { withGocron } from '../lib/gocron-setup';
import { historyJobRows, planHistory, prefillHistory, PrefillStats } from '../lib/history';
import { jobRow } from '../lib/ledger-db';
import { GocronMode, isGocronMode } from '../lib/options';
import { Resources, servicesFor } from '../lib/sampling';
import { SteadyLedger, steadyLedger, steadyWindow } from '../lib/steady';
import { LagStats, lagStats, TickStats, tickStats } from '../lib/stats';
import { dumpStub, hitsOf, withStub } from '../lib/stub';

const HISTORY_JOBS = 1000;
const HISTORY_DAYS = 30;
const EVERY_SECOND = '* * * * * *';
const DASHBOARD_PAGES = [
  { name: 'runs', path: '/api/runs?limit=50' },
  { name: 'jobs', path: '/api/jobs?limit=50' },
];

export interface W6Result {
  system: GocronMode;
  /** W1's jobs (every second). */
  jobs: number;
  historyJobs: number;
  /** Runs in the ledger before the window: 0 for the empty ledger. */
  ledgerRows: number;
  seconds: number;
  window: [number, number];
  /** How the history went in (null: the empty ledger). */
  prefill: PrefillStats | null;
  ledger: SteadyLedger;
  stub: TickStats;
  statuses: Record<string, number>;
  /** The dashboard's requests in the window, by page (`runs`, `jobs`). */
  api: DashboardReadings['pages'];
  /** The event stream: events received in the window, and how late each run event came (see eventLag). */
  events: DashboardReadings['stream'] & { dated: number; lag: LagStats };
  resources: Resources;
}

export function w6Attempts(bench: Bench): Attempt<W6Result>[] {
  const modes = bench.opts.systems.filter(isGocronMode);
  if (bench.opts.systems.includes('bullmq')) log('W6: gocron-ts only (BullMQ keeps no run ledger); bullmq skipped');
  return modes.flatMap((mode) => [
    { label: `W6 ${mode} empty ledger`, run: () => w6Gocron(bench, mode, false) },
    { label: `W6 ${mode} ${bench.opts.w6Rows[mode]} runs`, run: () => w6Gocron(bench, mode, true) },
  ]);
}

function w6Gocron(bench: Bench, mode: GocronMode, withHistory: boolean): Promise<W6Result> {
  const rate = bench.opts.w6Rate;
  const rows = bench.opts.w6Rows[mode];
  const tag = `w6-${mode}-${withHistory ? rows : 0}`;
  return withStub(bench, tag, (stub) =>
    withGocron(bench, mode, tag, async (g) => {
      await g.migrate();
      // the same jobs for both ledgers: the plan of the full history, its runs written only with history
      const plan = planHistory(HISTORY_JOBS, rows, HISTORY_DAYS, { httpFirst: rate });
      const url = `${stub.url}/`;
      const w1Http = jobRow(0, 'w6', EVERY_SECOND, url, 0).http;
      await g.db.insertJobs(
        historyJobRows(plan, 'w6', url).map((j, i) =>
          i < rate ? { ...j, cron: EVERY_SECOND, http: w1Http, enabled: 1, version: 3 } : j,
        ),
      );
      const jobIds = await idsInPlanOrder(g, HISTORY_JOBS);
      let prefill: PrefillStats | null = null;
      if (withHistory) {
        log(`W6 ${mode}: prefilling ${rows} runs …`);
        prefill = await prefillHistory(g.db, plan, jobIds);
        log(`W6 ${mode}: ${prefill.rows} runs in ${prefill.ms} ms (${prefill.rowsPerSec} rows/s)`);
      }
      // W1's jobs were switched to every second just now: their cursor starts here, not at their last history tick
      const now = Date.now();
      await g.db.run(`UPDATE jobs SET schedule_set_at = ?, last_tick_at = ?, updated_at = ? WHERE enabled = 1`, [
        now,
        now,
        now,
      ]);
      const { dispatchers, executors } = await g.up();
      const [d, ex] = [dispatchers[0], executors[0]];
      // the dashboard is open from the start, through the warm-up
      const dashboard = startDashboardLoad(g.base, DASHBOARD_PAGES);
      let stopped = false;
      const stopDashboard = async (): Promise<void> => {
        if (!stopped) await dashboard.stop();
        stopped = true;
      };
      try {
        const { T0, T1, resources } = await steadyWindow(bench, [d, ex, stub.proc], servicesFor(mode), {
          atStart: () => dumpStub(stub),
          atEnd: stopDashboard,
        });
        const hits = await dumpStub(stub);
        const afterId = prefill ? prefill.maxId : 0;
        const { ledger, statuses } = await steadyLedger(g, rate, T0, T1, [], afterId);
        const readings = dashboard.readings(T0, T1);
        const lags = await eventLag(g, readings.runEvents);
        return {
          system: mode,
          jobs: rate,
          historyJobs: HISTORY_JOBS,
          ledgerRows: prefill ? prefill.rows : 0,
          seconds: bench.opts.seconds,
          window: [T0, T1],
          prefill,
          ledger,
          stub: tickStats(hitsOf(hits, 'gocron'), rate, T0, T1),
          statuses,
          api: readings.pages,
          events: { ...readings.stream, dated: lags.length, lag: lagStats(lags) },
          resources,
        };
      } finally {
        await stopDashboard();
      }
    }),
  );
}

/** The ids of the jobs `w6-0` … `w6-<n-1>`, in that order. */
async function idsInPlanOrder(g: GocronSetup, n: number): Promise<number[]> {
  const rows = await g.db.all<{ id: number | string; name: string }>(`SELECT id, name FROM jobs`);
  const byName = new Map(rows.map((r) => [r.name, Number(r.id)]));
  return Array.from({ length: n }, (_, i) => {
    const id = byName.get(`w6-${i}`);
    if (id === undefined) throw new Error(`W6: job w6-${i} is not in the jobs table`);
    return id;
  });
}

/**
 * How late the stream told of each run change: its arrival − the ledger's instant of the status it announced
 * (created_at for pending, started_at for running, finished_at for a final status). Events without a status, or
 * announcing a final status the run no longer has, are not dated.
 */
async function eventLag(g: GocronSetup, events: RunEventSample[]): Promise<number[]> {
  type Row = {
    id: number | string;
    status: string;
    created_at: number | string;
    started_at: number | string | null;
    finished_at: number | string | null;
  };
  const ids = [...new Set(events.filter((e) => e.status).map((e) => e.runId))];
  const runs = new Map<number, Row>();
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const rows = await g.db.all<Row>(
      `SELECT id, status, created_at, started_at, finished_at FROM runs ` +
        `WHERE id IN (${chunk.map(() => '?').join(',')})`,
      chunk,
    );
    for (const r of rows) runs.set(Number(r.id), r);
  }
  const lags: number[] = [];
  for (const e of events) {
    const r = runs.get(e.runId);
    if (!r || !e.status) continue;
    const at =
      e.status === 'pending'
        ? r.created_at
        : e.status === 'running'
          ? r.started_at
          : e.status === r.status
            ? r.finished_at
            : null;
    if (at != null) lags.push(e.at - Number(at));
  }
  return lags;
}
