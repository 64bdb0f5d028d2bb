// gocron-ts vs BullMQ job schedulers, side by side in one run (issue 5).
//
//   node --import tsx bench/run.ts [w1] [w2] [w3] [w4] [w5] [w6] [w7] [--seconds=60] [--w1-sizes=100,1000]
//                     [--w2-jobs=5000] [--w3-sizes=10000,100000] [--w4-jobs=200] [--w4-stamp] [--w5-rate=1000]
//                     [--w5-combos=1d1e,2d1e,1d2e,2d2e] [--w6-rows=cluster:10000000,embedded:2000000]
//                     [--w6-rate=100] [--w7-minutes=30] [--w7-rate=200] [--w7-parallel]
//                     [--systems=embedded,cluster,bullmq,floor] [--capacity=2048] [--bull-concurrency=100]
//                     [--out=bench/results/latest.json] [--merge] [--no-report] [--report-dir=docs] [--warmup=10]
//   (`node bench/run.js …` is the same: it loads this file through tsx.)
//
// W1 steady (N HTTP jobs every second), W2 burst (N jobs due the same second), W3 scale (N hourly jobs loaded),
// W4 shell (N jobs every second running `true`: spawn cost and lag; --w4-stamp adds a gocron-ts variant running
// `date +%s%3N`, whose output dates the command's own start), W5 cluster (W1 at --w5-rate jobs/s on the cluster
// setup with 1 or 2 dispatchers × 1 or 2 executors: throughput, duplicates, Redis and MariaDB load), W6 history
// (W1 at --w6-rate jobs/s with a dashboard open, beside a ledger prefilled with --w6-rows runs, and beside an empty
// one: lag and API latency, and the prefill's time), W7 soak (--w7-rate jobs/s for --w7-minutes: RSS each minute,
// no tick missed or run twice; --w7-parallel runs both setups at once). No scenario named: W1–W5 (W6 and W7 take
// long: name them). W1, W2 and W4 also measure the floor (--systems' `floor`, on by default): bench/floor.js, a bare
// loop doing the same GETs or spawns at the same instants, so each figure reads beside it (issue 17). One file per
// scenario in bench/scenarios/; what they share in bench/lib/.
//
// `npm run bench` (scripts/bench.sh) starts MariaDB, Redis and etcd (scripts/test-services.sh), builds, then runs
// this; run directly, it needs `npm run build` (dist/apps/*/main.js) and those services on loopback (GOCRON_TEST_*
// variables from scripts/test-services.sh are honoured). Every scenario starts what it needs as child processes
// (stub, dispatcher, executor, BullMQ worker: plain node, no loader) and kills them afterwards, also on failure or
// Ctrl-C. Results go to --out (bench/results/latest.json; --merge keeps the file's other scenarios) and to
// benchmarks.md + benchmarks.svg in --report-dir (docs/).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../test/support/processes';
import { Attempt, Bench, log } from './lib/bench';
import { parseArgs, ScenarioName, SCENARIOS } from './lib/options';
import { ProcessControl } from './lib/processes';
import type { BenchResults, Machine } from './lib/results';
import { round1 } from './lib/stats';
import { Workspace } from './lib/workspace';
import { writeReport } from './report';
import { w1Attempts } from './scenarios/w1-steady';
import { w2Attempts } from './scenarios/w2-burst';
import { w3Attempts } from './scenarios/w3-scale';
import { w4Attempts } from './scenarios/w4-shell';
import { w5Attempts } from './scenarios/w5-cluster';
import { w6Attempts } from './scenarios/w6-history';
import { w7Attempts } from './scenarios/w7-soak';

function machine(): Machine {
  const c = cpus();
  const bullmq = JSON.parse(readFileSync(require.resolve('bullmq/package.json'), 'utf8')) as { version: string };
  return {
    nproc: c.length,
    cpuModel: c[0] && c[0].model,
    ramGB: round1(totalmem() / 1073741824),
    node: process.version,
    bullmq: bullmq.version,
    kernel: release(),
  };
}

/** The one-line summary logged after each attempt. */
function summary(r: object): string {
  const x = r as {
    ledger?: { lag: unknown; started: number };
    worker?: { lag: unknown; started: number };
    stub?: { lag: unknown; started: number };
    coldStart?: unknown;
    createMs?: number;
    api?: Record<string, { latency: { p50: number | null; p99: number | null }; errors: number }>;
    rss?: { name: string; baseMB: number | null; finalMB: number | null }[];
  };
  const s = x.ledger || x.worker || x.stub;
  const extra = x.api
    ? Object.entries(x.api).map(([k, v]) => `${k} ${v.latency.p50}/${v.latency.p99} ms, ${v.errors} errors`)
    : x.rss
      ? x.rss.map((p) => `${p.name} RSS ${p.baseMB} → ${p.finalMB} MB`)
      : [];
  return JSON.stringify(s ? [s.lag, s.started, ...extra] : x.coldStart || x.createMs);
}

/** With --merge: the scenarios not run now come from the file's earlier run (each scenario's systems from one run). */
function mergeEarlier(results: BenchResults, chosen: ScenarioName[], prev: BenchResults): void {
  results.merged = {
    from: prev.runId,
    scenarios: SCENARIOS.filter((s) => !chosen.includes(s) && prev[s] && prev[s].length),
  };
  const take = <K extends ScenarioName>(s: K): void => {
    results[s] = prev[s];
  };
  results.merged.scenarios.forEach(take);
  // Which run each scenario's figures come from, carried across merges.
  results.provenance = {};
  for (const s of SCENARIOS) {
    if (chosen.includes(s)) results.provenance[s] = results.runId;
    else if (results.merged.scenarios.includes(s))
      results.provenance[s] = (prev.provenance && prev.provenance[s]) || prev.runId;
  }
  const { runId, startedAt, finishedAt, loadAtStart, loadAtEnd, build } = prev;
  results.earlier = { runId, startedAt, finishedAt, loadAtStart, loadAtEnd, build };
}

const { chosen, options: opts } = parseArgs(process.argv.slice(2));
const work = new Workspace();
const procs = new ProcessControl(work);
procs.killOnExit();
const bench: Bench = { opts, runId: `${Date.now().toString(36)}${process.pid.toString(36)}`, work, procs };

async function main(): Promise<void> {
  if (!existsSync(join(REPO_ROOT, 'dist/apps/dispatcher/main.js'))) {
    throw new Error('dist/apps/dispatcher/main.js is missing: run `npm run build` first');
  }
  const results: BenchResults = {
    runId: bench.runId,
    startedAt: new Date().toISOString(),
    machine: machine(),
    build: work.snapshotDist(),
    options: opts,
    loadAtStart: loadavg(),
    w1: [],
    w2: [],
    w3: [],
    w4: [],
    w5: [],
    w6: [],
    w7: [],
    errors: [],
  };
  const runAll = async <R extends object>(attempts: Attempt<R>[], into: R[]): Promise<void> => {
    for (const { label, run } of attempts) {
      log(`${label} …`);
      try {
        const r = await run();
        into.push(r);
        log(`${label}: ${summary(r)}`);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        log(`${label} FAILED: ${err.stack}`);
        results.errors.push({ label, error: String(err.message) });
        work.keep();
      }
    }
  };
  if (chosen.includes('w1')) await runAll(w1Attempts(bench), results.w1);
  if (chosen.includes('w2')) await runAll(w2Attempts(bench), results.w2);
  if (chosen.includes('w3')) await runAll(w3Attempts(bench), results.w3);
  if (chosen.includes('w4')) await runAll(w4Attempts(bench), results.w4);
  if (chosen.includes('w5')) await runAll(w5Attempts(bench), results.w5);
  if (chosen.includes('w6')) await runAll(w6Attempts(bench), results.w6);
  if (chosen.includes('w7')) await runAll(w7Attempts(bench), results.w7);
  results.finishedAt = new Date().toISOString();
  results.loadAtEnd = loadavg();
  mkdirSync(dirname(opts.out), { recursive: true });
  if (opts.merge && existsSync(opts.out))
    mergeEarlier(results, chosen, JSON.parse(readFileSync(opts.out, 'utf8')) as BenchResults);
  writeFileSync(opts.out, JSON.stringify(results, null, 2));
  log(`results: ${opts.out}`);
  if (opts.report) {
    writeReport(results, opts.reportDir);
    log(`wrote ${join(opts.reportDir, 'benchmarks.md')} and benchmarks.svg`);
  }
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
