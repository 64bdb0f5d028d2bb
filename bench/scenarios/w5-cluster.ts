// W5 cluster: W1 at --w5-rate jobs/s on the cluster setup with 1 or 2 dispatchers × 1 or 2 executors: throughput,
// duplicates, Redis and MariaDB load.
import { Attempt, Bench, log } from '../lib/bench';
import { sleep } from '../lib/clock';
import { withGocron } from '../lib/gocron-setup';
import { jobRows } from '../lib/ledger-db';
import { servicesFor, Resources } from '../lib/sampling';
import { CounterDelta, counterDelta, CounterReading, withServiceCounters } from '../lib/service-counters';
import { RunRow, SteadyLedger, steadyLedger, steadyWindow } from '../lib/steady';
import { TickStats, tickStats } from '../lib/stats';
import { dumpStub, hitsOf, withStub } from '../lib/stub';

export interface W5Result {
  system: 'cluster';
  combo: string;
  dispatchers: number;
  executors: number;
  jobs: number;
  seconds: number;
  window: [number, number];
  ledger: SteadyLedger & { duplicatedRowsAnyTrigger: number };
  stub: TickStats;
  statuses: Record<string, number>;
  byDispatcher: Record<string, number>;
  byExecutor: Record<string, number>;
  load: CounterDelta;
  background: CounterDelta;
  resources: Resources;
}

export function w5Attempts(bench: Bench): Attempt<W5Result>[] {
  if (!bench.opts.systems.includes('cluster')) {
    log('W5 skipped: it measures the cluster setup, which --systems leaves out');
    return [];
  }
  return bench.opts.w5Combos.map((combo) => {
    const [, d, e] = /^(\d+)d(\d+)e$/.exec(combo) ?? [];
    return {
      label: `W5 cluster ${combo} ${bench.opts.w5Rate}`,
      run: () => w5Cluster(bench, Number(d), Number(e), bench.opts.w5Rate),
    };
  });
}

interface ClusterRunRow extends RunRow {
  dispatcher_id: string | null;
  executor_id: string | null;
}

function w5Cluster(bench: Bench, nD: number, nE: number, jobs: number): Promise<W5Result> {
  const combo = `${nD}d${nE}e`;
  const tag = `w5-${combo}-${jobs}`;
  return withStub(bench, tag, (stub) =>
    withGocron(bench, 'cluster', tag, (g) =>
      withServiceCounters(async (counters) => {
        await g.migrate();
        await g.db.insertJobs(jobRows(jobs, 'w5', '* * * * * *', `${stub.url}/`));
        // what the shared Redis and MariaDB do without us (other work on the machine), 5 s before anything starts
        const b0 = await counters.read();
        await sleep(5000);
        const background = counterDelta(b0, await counters.read());
        const { dispatchers, executors } = await g.up(nD, nE);
        let c0: CounterReading | undefined;
        let c1: CounterReading | undefined;
        const { T0, T1, resources } = await steadyWindow(
          bench,
          [...dispatchers, ...executors, stub.proc],
          servicesFor('cluster'),
          {
            atStart: async () => {
              await dumpStub(stub);
              c0 = await counters.read();
            },
            atEnd: async () => (c1 = await counters.read()),
          },
        );
        const hits = await dumpStub(stub);
        const steady = await steadyLedger<ClusterRunRow>(g, jobs, T0, T1, ['dispatcher_id', 'executor_id']);
        const stubStats = tickStats(hitsOf(hits, 'gocron'), jobs, T0, T1);
        // rows of any trigger for one (job, tick): a second dispatcher must never add one
        const count = async (sql: string): Promise<number> =>
          Number((await g.db.all<{ n: number }>(sql, [T0, T1]))[0].n);
        const allRows = await count(`SELECT COUNT(*) AS n FROM runs WHERE scheduled_at >= ? AND scheduled_at < ?`);
        const distinctTicks = await count(
          `SELECT COUNT(*) AS n FROM (SELECT DISTINCT job_id, scheduled_at FROM runs WHERE scheduled_at >= ? AND scheduled_at < ?) x`,
        );
        const ledger = { ...steady.ledger, duplicatedRowsAnyTrigger: allRows - distinctTicks };
        const created = await count(`SELECT COUNT(*) AS n FROM runs WHERE created_at >= ? AND created_at < ?`);
        const by = (col: 'dispatcher_id' | 'executor_id'): Record<string, number> => {
          const m: Record<string, number> = {};
          for (const r of steady.dbRows) {
            const k = r[col] || '(none)';
            m[k] = (m[k] || 0) + 1;
          }
          return m;
        };
        if (!c0 || !c1) throw new Error('W5: the service counters were not read around the window');
        return {
          system: 'cluster',
          combo,
          dispatchers: nD,
          executors: nE,
          jobs,
          seconds: bench.opts.seconds,
          window: [T0, T1],
          ledger,
          stub: stubStats,
          statuses: steady.statuses,
          byDispatcher: by('dispatcher_id'),
          byExecutor: by('executor_id'),
          load: counterDelta(c0, c1, created),
          background,
          resources,
        };
      }),
    ),
  );
}
