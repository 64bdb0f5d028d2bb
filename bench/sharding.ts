// Sharing the work among dispatchers (issue 18): the targets' table, on the cluster setup (MariaDB + Redis + etcd).
//   million:  --jobs (1,000,000) enabled HTTP jobs inserted directly, each hourly at a random second (`S M * * * *`),
//             3 dispatchers started at once + 1 executor, --minutes (10) measured: per dispatcher cold start (spawn →
//             its "scheduling N enabled job(s)" line, spawn → /api/health 200), RSS (VmRSS every 500 ms: peak, and
//             settled = the median of the last minute), CPU, shards held at the end; from the ledger every expected
//             tick of the window (from each job's S and M) without a run, and every tick recorded or started twice.
//   takeover: --takeover-jobs (100) HTTP jobs every second, 3 dispatchers, `[etcd] lease_ttl` 2, 1 executor; after
//             --warmup (30 s) one dispatcher is SIGKILLed (its shards read just before from another), then --after
//             (30 s) more: how long its jobs' ticks paused, how soon its shards were held by the survivors, missed
//             and duplicated ticks of all jobs over the whole window.
//   npm run build && source /tmp/gocron-test-services/env &&
//   node --import tsx bench/sharding.ts [--jobs=1000000] [--minutes=10] [--scenario=million,takeover]
//        [--takeover-jobs=100] [--warmup=30] [--after=30] [--capacity=2048] [--out-dir=bench/results]
// Prints a Markdown table per scenario and writes bench/results/sharding-<scenario>.json.
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { shardOf } from '../libs/common/src/shards';
import { REPO_ROOT } from '../test/support/processes';
import { freePort } from '../test/support/services';
import { waitFor } from '../test/support/wait';
import { apiFetch } from './lib/api';
import { Bench, log } from './lib/bench';
import { sleep, sleepUntil, wholeSecondAfter } from './lib/clock';
import { GocronSetup, withGocron } from './lib/gocron-setup';
import { jobRow, jobRows } from './lib/ledger-db';
import { parseArgs } from './lib/options';
import { BenchProcess, ProcessControl } from './lib/processes';
import { memKb, Resources, sampler, servicesFor } from './lib/sampling';
import { CounterDelta, counterDelta, CounterReading, withServiceCounters } from './lib/service-counters';
import { steadyLedger, SteadyLedger } from './lib/steady';
import { LagStats, lagStats, round1 } from './lib/stats';
import { dumpStub, hitsOf, Stub, withStub } from './lib/stub';
import { Workspace } from './lib/workspace';
import { random } from './lib/history';

/** The run columns both scenarios read. */
interface RunRow {
  job_id: number | string;
  scheduled_at: number | string;
  created_at: number | string;
  started_at: number | string | null;
  status: string;
  dispatcher_id: string | null;
}

const argv = process.argv.slice(2);
const flag = (name: string, def: string): string =>
  argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const SCENARIOS = flag('scenario', 'million,takeover').split(',');
for (const s of SCENARIOS) if (!['million', 'takeover'].includes(s)) throw new Error(`--scenario: unknown ${s}`);
const JOBS = Number(flag('jobs', '1000000'));
const MINUTES = Number(flag('minutes', '10'));
const TAKEOVER_JOBS = Number(flag('takeover-jobs', '100'));
const WARMUP_S = Number(flag('warmup', '30'));
const AFTER_S = Number(flag('after', '30'));
const OUT_DIR = flag('out-dir', join(REPO_ROOT, 'bench', 'results'));
const DISPATCHERS = 3;
/** Late runs of the window still count: rows written this long after it are read too. */
const GRACE_MS = 20_000;

// The shared parser knows --capacity (the executor's, 2048 by default as in the harness); the rest is ours.
const { options } = parseArgs(argv.filter((a) => a.startsWith('--capacity=')));
const work = new Workspace();
const procs = new ProcessControl(work);
procs.killOnExit();
const bench: Bench = { opts: options, runId: `${Date.now().toString(36)}${process.pid.toString(36)}`, work, procs };

/** VmRSS of a process every 500 ms from its spawn to stop(). */
class RssTrack {
  readonly samples: { t: number; kb: number }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly proc: BenchProcess) {
    const tick = (): void => {
      if (this.proc.dead) return;
      const kb = memKb(this.proc.pid).rss;
      if (kb > 0) this.samples.push({ t: Date.now(), kb });
    };
    tick();
    this.timer = setInterval(tick, 500);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  peakMB(): number | null {
    return this.samples.length ? round1(Math.max(...this.samples.map((s) => s.kb)) / 1024) : null;
  }

  /** The median of the samples of the last `ms` before `until`. */
  settledMB(until: number, ms = 60_000): number | null {
    const xs = this.samples.filter((s) => s.t >= until - ms && s.t <= until).map((s) => s.kb);
    if (!xs.length) return null;
    xs.sort((a, b) => a - b);
    return round1(xs[Math.floor(xs.length / 2)] / 1024);
  }
}

interface Dispatcher {
  id: string;
  base: string;
  proc: BenchProcess;
  rss: RssTrack;
  /** spawn → the "scheduling N enabled job(s)" line, and N. */
  scheduling: Promise<{ ms: number; jobs: number; loadedInMs: number | null }>;
  /** spawn → /api/health 200. */
  health: Promise<number>;
}

/** Starts `n` dispatchers at once (the first on the setup's port and id), each followed from its spawn. */
async function startDispatchers(g: GocronSetup, n: number, tag: string): Promise<Dispatcher[]> {
  const ports: (number | null)[] = [null];
  for (let i = 2; i <= n; i++) ports.push(await freePort());
  const out: Dispatcher[] = [];
  for (let i = 1; i <= n; i++) {
    const port = ports[i - 1];
    const id = i === 1 ? `bench-d-${tag}` : `bench-d-${tag}-${i}`;
    const extra: Record<string, string> =
      port === null ? {} : { GOCRON_DISPATCHER_PORT: String(port), GOCRON_DISPATCHER_ID: id };
    const proc = g.startDispatcher([], extra, `dispatcher${i}`);
    const base = port === null ? g.base : `http://127.0.0.1:${port}`;
    const scheduling = proc
      .waitForOutput(/scheduling (\d+) enabled job\(s\)(?:, loaded in (\d+) ms)?/, 600_000)
      .then(({ at, match }) => ({
        ms: at - proc.spawnedAt,
        jobs: Number(match[1]),
        loadedInMs: match[2] ? Number(match[2]) : null,
      }));
    const health = waitFor(async () => (await g.health(base)) && Date.now() - proc.spawnedAt, {
      timeoutMs: 600_000,
      intervalMs: 20,
      what: `dispatcher health at ${base}`,
    });
    scheduling.catch(() => {});
    health.catch(() => {});
    out.push({ id, base, proc, rss: new RssTrack(proc), scheduling, health });
  }
  return out;
}

/** `gocron_jobs_scheduled`, `gocron_shards_planned` and `gocron_shards_mode` of a dispatcher every 250 ms from its spawn. */
class StartupWatch {
  /** [ms since spawn, jobs scheduled, shards planned, mode (1: owned)] */
  readonly samples: [number, number, number, number][] = [];
  private stopped = false;

  constructor(private readonly d: { base: string; proc: BenchProcess }) {
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped && !this.d.proc.dead) {
      const m = await shardMetrics(this.d.base);
      if (m && 'gocron_jobs_scheduled' in m) {
        this.samples.push([
          Date.now() - this.d.proc.spawnedAt,
          m.gocron_jobs_scheduled,
          m.gocron_shards_planned,
          m.gocron_shards_mode,
        ]);
      }
      await sleep(250);
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** Spawn → the first sample planning its own shards only with at least `jobs` jobs scheduled. */
  readyMs(jobs: number): number | null {
    return this.samples.find(([, n, , mode]) => mode === 1 && n >= jobs)?.[0] ?? null;
  }
}

interface DispatcherView {
  id: string;
  shards: number[];
}

async function dispatcherList(base: string): Promise<DispatcherView[]> {
  const r = await apiFetch(base, '/api/dispatchers');
  if (r.status !== 200) throw new Error(`GET ${base}/api/dispatchers: ${r.status}`);
  return (await r.json()) as DispatcherView[];
}

/** `gocron_shard_changes_total` and `gocron_shards_planned` of one dispatcher (null when it does not answer). */
async function shardMetrics(base: string): Promise<Record<string, number> | null> {
  try {
    const text = await (await apiFetch(base, '/metrics')).text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^(gocron_(?:shard|jobs_scheduled)[a-z_]*(?:\{[^}]*\})?) (\S+)$/gm)) {
      out[m[1]] = Number(m[2]);
    }
    return out;
  } catch {
    return null;
  }
}

/** The lines of a process's log that speak of shards, ownership or misses (for the report of a surprise). */
function shardLogLines(proc: BenchProcess, max = 40): string[] {
  try {
    const text = readFileSync(work.file(`${proc.name}.log`), 'utf8');
    return text
      .split('\n')
      .filter((l) => /shard|planning|etcd|missed|misfire|took over|handed over/i.test(l))
      .slice(-max);
  } catch {
    return [];
  }
}

/** Waits until every live dispatcher holds ⌊256/k⌋ or ⌈256/k⌉ shards and all 256 are held; ms since `from`. */
async function waitBalanced(base: string, k: number, from: number, timeoutMs: number): Promise<number | null> {
  const lo = Math.floor(256 / k);
  const hi = Math.ceil(256 / k);
  return waitFor(
    async () => {
      const list = await dispatcherList(base);
      const total = list.reduce((a, d) => a + d.shards.length, 0);
      const ok =
        list.length === k && total === 256 && list.every((d) => d.shards.length >= lo && d.shards.length <= hi);
      return ok && Date.now() - from;
    },
    { timeoutMs, intervalMs: 50, what: `${k} dispatchers holding all 256 shards, balanced` },
  ).catch(() => null);
}

interface Dup {
  /** First-attempt scheduled rows beyond one per (job, tick_key). */
  firstAttemptRows: number;
  /** (job, scheduledAt) with more than one row whose run started. */
  startedTwice: number;
  /** (job, scheduledAt) whose HTTP request reached the stub more than once. */
  stubTwice: number;
}

async function duplicates(g: GocronSetup, T0: number, T1: number, stubHits: { key: string; sched: number }[]) {
  const t = g.db.q('trigger');
  const [a] = await g.db.all<{ n: number | string | null }>(
    `SELECT SUM(c - 1) AS n FROM (SELECT COUNT(*) AS c FROM runs WHERE attempt = 1 AND ${t} IN ('schedule', 'misfire')
       AND scheduled_at >= ? AND scheduled_at < ? GROUP BY job_id, tick_key HAVING COUNT(*) > 1) x`,
    [T0, T1],
  );
  const [b] = await g.db.all<{ n: number | string | null }>(
    `SELECT COUNT(*) AS n FROM (SELECT job_id FROM runs WHERE started_at IS NOT NULL AND scheduled_at >= ?
       AND scheduled_at < ? AND ${t} <> 'manual' GROUP BY job_id, scheduled_at HAVING COUNT(*) > 1) x`,
    [T0, T1],
  );
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const h of stubHits) {
    if (h.sched < T0 || h.sched >= T1) continue;
    const k = `${h.key}@${h.sched}`;
    if (seen.has(k)) twice.add(k);
    else seen.add(k);
  }
  const dup: Dup = { firstAttemptRows: Number(a.n ?? 0), startedTwice: Number(b.n ?? 0), stubTwice: twice.size };
  return dup;
}

// ---------------------------------------------------------------------------------------------------------------
// million

interface MillionDispatcher {
  id: string;
  coldStart: {
    schedulingLogMs: number | null;
    healthMs: number | null;
    scheduledJobs: number | null;
    /** Spawn → planning its shards (as held at the end) with all their jobs scheduled (gocron_jobs_scheduled). */
    readyMs: number | null;
    jobsOfItsShards: number;
  };
  startup: [number, number, number, number][];
  rss: { peakMB: number | null; settledMB: number | null };
  cpuPct: number | null;
  shardsAtEnd: number;
  died: string | null;
  metrics: Record<string, number> | null;
}

interface MillionResult {
  jobs: number;
  minutes: number;
  insert: { ms: number; rowsPerSec: number; cursorResetMs: number };
  window: [number, number];
  dispatchers: MillionDispatcher[];
  balancedAfterMs: number | null;
  ledger: HourlyLedger;
  startup: HourlyLedger;
  duplicated: Dup;
  /** Over the start span (the stub's requests of it are not kept: stubTwice 0). */
  duplicatedAtStart: Dup;
  /** CPU and RSS of the processes from the spawn to the window. */
  startupResources: Resources;
  load: CounterDelta;
  resources: Resources;
  logs: Record<string, string[]>;
}

const SECOND = 1000;
const HOUR = 3_600_000;

interface HourlyLedger {
  window: [number, number];
  expected: number;
  ran: number;
  missed: number;
  /** Expected ticks with no row at all at their instant. */
  missedNoRow: number;
  /** Expected ticks with a row that did not start, by its status. */
  missedByStatus: Record<string, number>;
  rowsByStatus: Record<string, number>;
  lag: LagStats;
  /** Tick → row created. */
  claimLag: LagStats;
  byDispatcher: Record<string, number>;
}

/** The ticks of [A, B) of jobs firing once an hour at `offsets` (ms into the hour), against the ledger's rows. */
async function hourlyLedger(g: GocronSetup, offsets: Map<number, number>, A: number, B: number): Promise<HourlyLedger> {
  const expected = new Set<string>();
  for (const [id, off] of offsets) {
    for (let h = Math.floor(A / HOUR) * HOUR; h < B; h += HOUR) {
      const t = h + off;
      if (t >= A && t < B) expected.add(`${id}@${t}`);
    }
  }
  const rows = await g.db.all<RunRow>(
    `SELECT job_id, scheduled_at, created_at, started_at, status, dispatcher_id FROM runs
      WHERE scheduled_at >= ? AND scheduled_at < ?`,
    [A, B],
  );
  const rowsByStatus: Record<string, number> = {};
  const byDispatcher: Record<string, number> = {};
  const statusOf = new Map<string, string>();
  const ran = new Set<string>();
  const lags: number[] = [];
  const claimLags: number[] = [];
  for (const r of rows) {
    const k = `${Number(r.job_id)}@${Number(r.scheduled_at)}`;
    rowsByStatus[r.status] = (rowsByStatus[r.status] || 0) + 1;
    const who = r.dispatcher_id || '(none)';
    byDispatcher[who] = (byDispatcher[who] || 0) + 1;
    if (!statusOf.has(k)) statusOf.set(k, r.status);
    if (r.started_at != null && !ran.has(k)) {
      ran.add(k);
      lags.push(Number(r.started_at) - Number(r.scheduled_at));
      claimLags.push(Number(r.created_at) - Number(r.scheduled_at));
    }
  }
  let ranExpected = 0;
  let noRow = 0;
  const missedByStatus: Record<string, number> = {};
  for (const k of expected) {
    if (ran.has(k)) ranExpected++;
    else if (!statusOf.has(k)) noRow++;
    else {
      const st = statusOf.get(k) as string;
      missedByStatus[st] = (missedByStatus[st] || 0) + 1;
    }
  }
  return {
    window: [A, B],
    expected: expected.size,
    ran: ranExpected,
    missed: expected.size - ranExpected,
    missedNoRow: noRow,
    missedByStatus,
    rowsByStatus,
    lag: lagStats(lags),
    claimLag: lagStats(claimLags),
    byDispatcher,
  };
}

async function million(): Promise<MillionResult> {
  const tag = 'shard-million';
  return withStub(bench, tag, (stub) =>
    withGocron(bench, 'cluster', tag, (g) =>
      withServiceCounters(async (counters) => {
        await g.migrate();
        // N hourly jobs at random (S, M), inserted 20,000 rows at a time (multi-row INSERTs of 2,000).
        const rnd = random(18); // seeded: the same schedules for the same --jobs on every run
        const ti = Date.now();
        const CHUNK = 20_000;
        for (let i = 0; i < JOBS; i += CHUNK) {
          const now = Date.now();
          const rows = [];
          for (let j = i; j < Math.min(JOBS, i + CHUNK); j++) {
            const s = Math.floor(rnd() * 60);
            const m = Math.floor(rnd() * 60);
            rows.push(jobRow(j, 'sh', `${s} ${m} * * * *`, `${stub.url}/`, now));
          }
          await g.db.insertJobs(rows);
          if ((i / CHUNK) % 10 === 0) log(`million: ${i + rows.length} jobs inserted`);
        }
        const insertMs = Date.now() - ti;
        log(`million: ${JOBS} jobs inserted in ${insertMs} ms`);
        // Every job's offset in its hour, from its cron (ids come from the database).
        const offsets = new Map<number, number>();
        for (let afterId = 0; ;) {
          const page = await g.db.all<{ id: number | string; cron: string }>(
            `SELECT id, cron FROM jobs WHERE id > ? ORDER BY id LIMIT 100000`,
            [afterId],
          );
          for (const r of page) {
            const [s, m] = r.cron.split(' ').map(Number);
            offsets.set(Number(r.id), (m * 60 + s) * SECOND);
          }
          if (page.length < 100_000) break;
          afterId = Number(page[page.length - 1].id);
        }
        // The cursors as if the jobs had been created just now: the ticks that passed while inserting are not
        // made up at start (with misfire `skip` they would be dropped as misfired, tens of thousands of records).
        const tc = Date.now();
        for (let lo = 0; lo < JOBS; lo += 50_000) {
          await g.db.run(`UPDATE jobs SET last_tick_at = ? WHERE id > ? AND id <= ?`, [Date.now(), lo, lo + 50_000]);
        }
        const cursorResetMs = Date.now() - tc;
        log(`million: cursors reset in ${cursorResetMs} ms; starting 1 executor and ${DISPATCHERS} dispatchers`);
        const ex = g.startExecutor();
        const ds = await startDispatchers(g, DISPATCHERS, tag);
        const spawned = Math.min(...ds.map((d) => d.proc.spawnedAt));
        const balanced = waitBalanced(ds[0].base, DISPATCHERS, spawned, 300_000);
        const watches = ds.map((d) => new StartupWatch(d));
        const startSmp = sampler(work, [...ds.map((d) => d.proc), ex], servicesFor('cluster'));
        const cold = await Promise.all(
          ds.map(async (d) => ({
            scheduling: await d.scheduling.catch(() => null),
            health: await d.health.catch(() => null),
          })),
        );
        for (const [i, c] of cold.entries()) log(`million: ${ds[i].id} cold start ${JSON.stringify(c)}`);
        await g.waitExecutors(1, ds[0].base);
        const balancedAfterMs = await balanced;
        log(`million: shards balanced ${balancedAfterMs} ms after the spawn`);
        // The window: whole seconds from 10 s after everything is up, --minutes long.
        const T0 = wholeSecondAfter(10);
        const T1 = T0 + MINUTES * 60_000;
        await sleepUntil(T0);
        for (const w of watches) w.stop();
        const startupResources = startSmp.stop();
        await dumpStub(stub);
        const c0: CounterReading = await counters.read();
        const smp = sampler(work, [...ds.map((d) => d.proc), ex], servicesFor('cluster'));
        const hits: { key: string; sched: number }[] = [];
        // the stub keeps what it received until dumped: every 30 s
        while (Date.now() < T1) {
          await sleep(Math.min(30_000, T1 - Date.now()));
          hits.push(...hitsOf(await dumpStub(stub), 'gocron'));
          log(`million: ${Math.round((T1 - Date.now()) / 1000)} s of the window left`);
        }
        const resources = smp.stop();
        const c1 = await counters.read();
        const endList = await dispatcherList(ds[0].base).catch(() => [] as DispatcherView[]);
        const metrics = await Promise.all(ds.map((d) => shardMetrics(d.base)));
        await sleep(GRACE_MS);
        hits.push(...hitsOf(await dumpStub(stub), 'gocron'));
        for (const d of ds) d.rss.stop();
        const ledger = await hourlyLedger(g, offsets, T0, T1);
        // The start: ticks due from the spawn to the window, while the dispatchers came up and shared the shards.
        const startup = await hourlyLedger(g, offsets, Math.ceil(spawned / SECOND) * SECOND, T0);
        const created = Number(
          (
            await g.db.all<{ n: number | string }>(
              `SELECT COUNT(*) AS n FROM runs WHERE created_at >= ? AND created_at < ?`,
              [T0, T1],
            )
          )[0].n,
        );
        const duplicated = await duplicates(g, T0, T1, hits);
        const duplicatedAtStart = await duplicates(g, startup.window[0], T0, []);
        const held = new Map(endList.map((d) => [d.id, d.shards.length]));
        const jobsOfShards = (id: string): number => {
          const shards = new Set(endList.find((d) => d.id === id)?.shards ?? []);
          let n = 0;
          for (const jobId of offsets.keys()) if (shards.has(shardOf(jobId))) n++;
          return n;
        };
        const dispatchers: MillionDispatcher[] = ds.map((d, i) => {
          const own = jobsOfShards(d.id);
          return {
            id: d.id,
            coldStart: {
              schedulingLogMs: cold[i].scheduling?.ms ?? null,
              healthMs: cold[i].health ?? null,
              scheduledJobs: cold[i].scheduling?.jobs ?? null,
              readyMs: watches[i].readyMs(own),
              jobsOfItsShards: own,
            },
            startup: watches[i].samples,
            rss: { peakMB: d.rss.peakMB(), settledMB: d.rss.settledMB(T1) },
            cpuPct: resources.procs.find((p) => p.name === d.proc.name)?.cpuPct ?? null,
            shardsAtEnd: held.get(d.id) ?? 0,
            died: d.proc.dead ? d.proc.exitDescription() : null,
            metrics: metrics[i],
          };
        });
        const logs: Record<string, string[]> = {};
        for (const d of ds) logs[d.id] = shardLogLines(d.proc);
        return {
          jobs: JOBS,
          minutes: MINUTES,
          insert: { ms: insertMs, rowsPerSec: Math.round(JOBS / (insertMs / 1000)), cursorResetMs },
          window: [T0, T1],
          dispatchers,
          balancedAfterMs,
          ledger,
          startup,
          duplicated,
          duplicatedAtStart,
          startupResources,
          load: counterDelta(c0, c1, created),
          resources,
          logs,
        };
      }),
    ),
  );
}

function millionTable(r: MillionResult): string {
  const lines = [
    `million: ${r.jobs.toLocaleString('en')} hourly HTTP jobs, ${DISPATCHERS} dispatchers + 1 executor, ` +
      `${r.minutes} min window; insert ${(r.insert.ms / 1000).toFixed(1)} s (${r.insert.rowsPerSec}/s); ` +
      `shards balanced ${r.balancedAfterMs ?? 'never'} ms after the spawn`,
    '',
    '| dispatcher | jobs at "scheduling" log | spawn → that log | spawn → health 200 | spawn → its shards\' jobs all scheduled | RSS peak | RSS settled | CPU | shards at end (jobs) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const d of r.dispatchers) {
    lines.push(
      `| ${d.id} | ${d.coldStart.scheduledJobs ?? '–'} | ${d.coldStart.schedulingLogMs ?? '–'} ms | ` +
        `${d.coldStart.healthMs ?? '–'} ms | ${d.coldStart.readyMs ?? '–'} ms | ${d.rss.peakMB} MB | ` +
        `${d.rss.settledMB} MB | ${d.cpuPct} % | ${d.shardsAtEnd} (${d.coldStart.jobsOfItsShards})` +
        `${d.died ? ` (died: ${d.died})` : ''} |`,
    );
  }
  const l = r.ledger;
  const u = r.startup;
  lines.push(
    '',
    '| span | expected ticks | ran | missed (no row / other status) | duplicated first-attempt rows | started twice | stub hit twice | lag p50 / p99 / max ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    `| window (${r.minutes} min) | ${l.expected} | ${l.ran} | ${l.missed} (${l.missedNoRow} / ${JSON.stringify(l.missedByStatus)}) | ` +
      `${r.duplicated.firstAttemptRows} | ${r.duplicated.startedTwice} | ${r.duplicated.stubTwice} | ` +
      `${l.lag.p50} / ${l.lag.p99} / ${l.lag.max} |`,
    `| start (spawn → window, ${(r.startup.window[1] - r.startup.window[0]) / 1000} s) | ${u.expected} | ${u.ran} | ` +
      `${u.missed} (${u.missedNoRow} / ${JSON.stringify(u.missedByStatus)}) | ${r.duplicatedAtStart.firstAttemptRows} | ` +
      `${r.duplicatedAtStart.startedTwice} | – | ` +
      `${u.lag.p50} / ${u.lag.p99} / ${u.lag.max} |`,
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// takeover

interface TakeoverResult {
  jobs: number;
  leaseTtlSeconds: number;
  window: [number, number];
  killedAt: number;
  victim: { id: string; shards: number[]; jobs: number; ledShard0: boolean };
  balancedAfterMs: number | null;
  /** Kill → every shard of the victim held by a survivor, as GET /api/dispatchers on a survivor says. */
  shardsHeldBySurvivorsMs: number | null;
  /** Kill → the victim gone from GET /api/dispatchers. */
  victimUnlistedMs: number | null;
  /** The victim's jobs: largest gap between consecutive ticks' row created_at, around the kill. */
  resume: {
    maxGapMs: number | null;
    maxGapJob: number | null;
    /** Ticks due after the kill: created_at − scheduled_at. */
    claimLagAfterKill: LagStats;
    /** Kill → the first row a survivor created for a victim's job. */
    firstSurvivorRowMs: number | null;
  };
  ledger: SteadyLedger;
  duplicated: Dup;
  statuses: Record<string, number>;
  byDispatcher: Record<string, number>;
  shardsAtEnd: Record<string, number>;
  metrics: Record<string, Record<string, number> | null>;
  logs: Record<string, string[]>;
}

async function takeover(): Promise<TakeoverResult> {
  const tag = 'shard-takeover';
  const TTL = 2;
  return withStub(bench, tag, (stub: Stub) =>
    withGocron(
      bench,
      'cluster',
      tag,
      async (g) => {
        await g.migrate();
        await g.db.insertJobs(jobRows(TAKEOVER_JOBS, 'to', '* * * * * *', `${stub.url}/`));
        g.startExecutor();
        const ds = await startDispatchers(g, DISPATCHERS, tag);
        const spawned = Math.min(...ds.map((d) => d.proc.spawnedAt));
        const balanced = waitBalanced(ds[0].base, DISPATCHERS, spawned, 60_000);
        await Promise.all(ds.map((d) => d.scheduling));
        await Promise.all(ds.map((d) => d.health));
        for (const d of ds) await g.waitExecutors(1, d.base);
        const balancedAfterMs = await balanced;
        log(`takeover: shards balanced ${balancedAfterMs} ms after the spawn`);
        const T0 = wholeSecondAfter(5);
        await sleepUntil(T0);
        await dumpStub(stub);
        const hits: { key: string; sched: number }[] = [];
        await sleep(Math.max(0, WARMUP_S * 1000 - 5000));
        // The victim: the second dispatcher; its shards as the first one sees them just before the kill.
        const victim = ds[1];
        const survivor = ds[0];
        const before = await dispatcherList(survivor.base);
        const victimShards = before.find((d) => d.id === victim.id)?.shards ?? [];
        victim.proc.signal('SIGKILL');
        const killedAt = Date.now();
        log(`takeover: SIGKILLed ${victim.id} holding ${victimShards.length} shard(s)`);
        const gone = new Set(victimShards);
        let victimUnlistedMs: number | null = null;
        const shardsHeldBySurvivorsMs = await waitFor(
          async () => {
            const list = await dispatcherList(survivor.base);
            if (victimUnlistedMs === null && !list.some((d) => d.id === victim.id)) {
              victimUnlistedMs = Date.now() - killedAt;
            }
            const heldBySurvivors = new Set(list.filter((d) => d.id !== victim.id).flatMap((d) => d.shards));
            return [...gone].every((n) => heldBySurvivors.has(n)) && Date.now() - killedAt;
          },
          { timeoutMs: AFTER_S * 1000, intervalMs: 50, what: "the victim's shards held by the survivors" },
        ).catch(() => null);
        log(`takeover: shards held by the survivors ${shardsHeldBySurvivorsMs} ms after the kill`);
        const T1 = Math.ceil((killedAt + AFTER_S * 1000) / 1000) * 1000;
        await sleepUntil(T1);
        const endList = await dispatcherList(survivor.base).catch(() => [] as DispatcherView[]);
        const metrics: Record<string, Record<string, number> | null> = {};
        for (const d of ds) if (d !== victim) metrics[d.id] = await shardMetrics(d.base);
        await sleep(5000);
        hits.push(...hitsOf(await dumpStub(stub), 'gocron'));
        for (const d of ds) d.rss.stop();
        const steady = await steadyLedger<RunRow>(g, TAKEOVER_JOBS, T0, T1, ['dispatcher_id']);
        const byDispatcher: Record<string, number> = {};
        for (const r of steady.dbRows) {
          const k = r.dispatcher_id || '(none)';
          byDispatcher[k] = (byDispatcher[k] || 0) + 1;
        }
        // The victim's jobs: gaps between consecutive ticks' rows from 5 s before the kill to the window's end.
        const ids = (await g.db.all<{ id: number | string }>(`SELECT id FROM jobs`)).map((r) => Number(r.id));
        const victimJobs = new Set(ids.filter((id) => gone.has(shardOf(id))));
        const byJob = new Map<number, { sched: number; created: number; by: string | null }[]>();
        for (const r of steady.dbRows) {
          const id = Number(r.job_id);
          if (!victimJobs.has(id) || Number(r.scheduled_at) < killedAt - 5000) continue;
          const list = byJob.get(id) ?? [];
          list.push({ sched: Number(r.scheduled_at), created: Number(r.created_at), by: r.dispatcher_id });
          byJob.set(id, list);
        }
        let maxGapMs: number | null = null;
        let maxGapJob: number | null = null;
        let firstSurvivorRow: number | null = null;
        const lagAfter: number[] = [];
        for (const [id, list] of byJob) {
          list.sort((a, b) => a.sched - b.sched);
          for (let i = 1; i < list.length; i++) {
            const gap = list[i].created - list[i - 1].created;
            if (maxGapMs === null || gap > maxGapMs) {
              maxGapMs = gap;
              maxGapJob = id;
            }
          }
          for (const x of list) {
            if (x.sched >= killedAt) lagAfter.push(x.created - x.sched);
            if (
              x.by !== victim.id &&
              x.created >= killedAt &&
              (firstSurvivorRow === null || x.created < firstSurvivorRow)
            ) {
              firstSurvivorRow = x.created;
            }
          }
        }
        const shardsAtEnd: Record<string, number> = {};
        for (const d of endList) shardsAtEnd[d.id] = d.shards.length;
        const logs: Record<string, string[]> = {};
        for (const d of ds) logs[d.id] = shardLogLines(d.proc);
        return {
          jobs: TAKEOVER_JOBS,
          leaseTtlSeconds: TTL,
          window: [T0, T1],
          killedAt,
          victim: { id: victim.id, shards: victimShards, jobs: victimJobs.size, ledShard0: gone.has(0) },
          balancedAfterMs,
          shardsHeldBySurvivorsMs,
          victimUnlistedMs,
          resume: {
            maxGapMs,
            maxGapJob,
            claimLagAfterKill: lagStats(lagAfter),
            firstSurvivorRowMs: firstSurvivorRow === null ? null : firstSurvivorRow - killedAt,
          },
          ledger: steady.ledger,
          duplicated: await duplicates(g, T0, T1, hits),
          statuses: steady.statuses,
          byDispatcher,
          shardsAtEnd,
          metrics,
          logs,
        };
      },
      { GOCRON_ETCD_LEASE_TTL: String(TTL) },
    ),
  );
}

function takeoverTable(r: TakeoverResult): string {
  const l = r.ledger;
  return [
    `takeover: ${r.jobs} HTTP jobs every second, ${DISPATCHERS} dispatchers, lease_ttl ${r.leaseTtlSeconds} s; ` +
      `window ${(r.window[1] - r.window[0]) / 1000} s, SIGKILL ${(r.killedAt - r.window[0]) / 1000} s in; ` +
      `victim ${r.victim.id}: ${r.victim.shards.length} shards, ${r.victim.jobs} jobs${r.victim.ledShard0 ? ' (held shard 0)' : ''}`,
    '',
    '| victim jobs: largest gap between ticks | kill → first survivor row | claim lag after kill p50 / p99 / max | kill → shards held by survivors | kill → victim unlisted | expected | started | missed | duplicated (rows / first attempt / started twice / stub) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${r.resume.maxGapMs} ms (job ${r.resume.maxGapJob}) | ${r.resume.firstSurvivorRowMs} ms | ` +
      `${r.resume.claimLagAfterKill.p50} / ${r.resume.claimLagAfterKill.p99} / ${r.resume.claimLagAfterKill.max} ms | ` +
      `${r.shardsHeldBySurvivorsMs} ms | ${r.victimUnlistedMs} ms | ${l.expected} | ${l.started} | ${l.missed} | ` +
      `${l.duplicatedRows} / ${r.duplicated.firstAttemptRows} / ${r.duplicated.startedTwice} / ${r.duplicated.stubTwice} |`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const build = work.snapshotDist();
  const c = cpus();
  const machine = {
    nproc: c.length,
    cpuModel: c[0]?.model,
    ramGB: round1(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
  };
  mkdirSync(OUT_DIR, { recursive: true });
  let failed = false;
  for (const scenario of SCENARIOS) {
    log(`${scenario} …`);
    const startedAt = new Date().toISOString();
    const load0 = loadavg();
    try {
      const result = scenario === 'million' ? await million() : await takeover();
      const table =
        scenario === 'million' ? millionTable(result as MillionResult) : takeoverTable(result as TakeoverResult);
      const file = join(OUT_DIR, `sharding-${scenario}.json`);
      const out = {
        runId: bench.runId,
        scenario,
        startedAt,
        finishedAt: new Date().toISOString(),
        machine,
        build,
        load: [load0, loadavg()],
        options: { jobs: JOBS, minutes: MINUTES, takeoverJobs: TAKEOVER_JOBS, warmup: WARMUP_S, after: AFTER_S },
        result,
      };
      writeFileSync(file, JSON.stringify(out, null, 2));
      process.stdout.write(`\n${table}\n\n`);
      log(`results: ${file}`);
    } catch (e) {
      failed = true;
      log(`${scenario} FAILED: ${e instanceof Error ? e.stack : String(e)}`);
      work.keep();
    }
  }
  if (failed) process.exitCode = 1;
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    procs.killAll();
    work.finish(!!process.exitCode);
  });
