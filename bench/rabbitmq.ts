// The RabbitMQ transport beside gRPC in one run (issue 16), on the cluster setup (MariaDB + Redis + etcd):
//   W1: N HTTP jobs every second (--w1-sizes=100,1000), lag from the ledger and the stub, runs/s;
//   W2: --w2-jobs (5,000) HTTP jobs due on one second: when all started;
//   Q:  --q-jobs (20,000) HTTP jobs due on one second, 2 executors of capacity 256 each: when all started and
//       ended, how many waited (pending in the ledger; ready in the broker's queue), duplicates, statuses.
// Each part runs once per transport (--transports=grpc,rabbitmq), and samples the processes, the shared services
// and the broker (beam.smp: CPU, RSS).
//   npm run build && source /tmp/gocron-test-services/env &&
//   node --import tsx bench/rabbitmq.ts [--parts=w1,w2,q] [--transports=grpc,rabbitmq] [--seconds=30]
//        [--w1-sizes=100,1000] [--w2-jobs=5000] [--q-jobs=20000] [--out=bench/results/rabbitmq.json]
// Prints one JSON line per attempt and a Markdown table at the end (pasted into docs/benchmarks.md).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../test/support/processes';
import { deleteBrokerQueues, testServices } from '../test/support/services';
import { waitFor } from '../test/support/wait';
import { apiFetch } from './lib/api';
import { Bench, log } from './lib/bench';
import { sleepUntil, wholeSecondAfter } from './lib/clock';
import { PLAIN, SetupVariant, variantTag, withGocron } from './lib/gocron-setup';
import { jobRows } from './lib/ledger-db';
import { parseArgs } from './lib/options';
import { ProcessControl } from './lib/processes';
import { Resources, sampler, servicesFor } from './lib/sampling';
import { BurstStats, burstStats, LagStats, lagStats, round1 } from './lib/stats';
import { dumpStub, hitsOf, withStub } from './lib/stub';
import { Workspace } from './lib/workspace';
import { cronAt, w2Gocron } from './scenarios/w2-burst';
import { w1Gocron } from './scenarios/w1-steady';

const argv = process.argv.slice(2);
const flag = (name: string, def: string): string =>
  argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const PARTS = flag('parts', 'w1,w2,q').split(',');
const TRANSPORTS = flag('transports', 'grpc,rabbitmq').split(',');
const Q_JOBS = Number(flag('q-jobs', '20000'));
const Q_CAPACITY = 256;
const OUT = flag('out', join(REPO_ROOT, 'bench', 'results', 'rabbitmq.json'));
for (const p of PARTS) if (!['w1', 'w2', 'q'].includes(p)) throw new Error(`--parts: unknown part ${p} (w1, w2, q)`);
for (const t of TRANSPORTS) {
  if (!['grpc', 'rabbitmq'].includes(t)) throw new Error(`--transports: unknown transport ${t} (grpc, rabbitmq)`);
}

// The shared option parser knows the scenario flags (--seconds, --w1-sizes, --w2-jobs, --capacity); this
// script's own flags are taken out before it sees them.
const own = ['parts', 'transports', 'q-jobs', 'out'];
const { options } = parseArgs([
  ...(argv.some((a) => a.startsWith('--seconds=')) ? [] : ['--seconds=30']),
  ...argv.filter((a) => !own.some((o) => a.startsWith(`--${o}=`))),
]);
const work = new Workspace();
const procs = new ProcessControl(work);
procs.killOnExit();
const bench: Bench = { opts: options, runId: `${Date.now().toString(36)}${process.pid.toString(36)}`, work, procs };

function brokerPid(): number | null {
  try {
    return Number(execFileSync('pgrep', ['-x', 'beam.smp']).toString().trim().split('\n')[0]) || null;
  } catch {
    return null;
  }
}

function variant(transport: string): SetupVariant {
  if (transport === 'grpc') return { ...PLAIN, name: 'grpc' };
  const prefix = `gocron-bench-${bench.runId}-${Math.random().toString(36).slice(2, 8)}`;
  return {
    name: 'rabbitmq',
    env: { GOCRON_RABBITMQ_URL: testServices().amqpUrl, GOCRON_RABBITMQ_GROUPS: '*', GOCRON_RABBITMQ_PREFIX: prefix },
    services: { 'beam.smp': brokerPid() },
  };
}

/** The queues a rabbitmq variant's setup declared (its executors' ids follow GocronSetup.up). */
async function dropQueues(v: SetupVariant, tag: string, executors: number): Promise<void> {
  const prefix = v.env.GOCRON_RABBITMQ_PREFIX;
  if (!prefix) return;
  const ids = Array.from({ length: executors }, (_, i) => (i === 0 ? `bench-e-${tag}` : `bench-e-${tag}-${i + 1}`));
  await deleteBrokerQueues(prefix, { groups: ['default'], executors: ids }).catch((e: unknown) =>
    log(`could not delete the queues of ${prefix}: ${String(e)}`),
  );
}

interface QResult {
  transport: string;
  jobs: number;
  executors: number;
  capacity: number;
  ledger: BurstStats;
  claimLag: LagStats;
  allEndedAfterMs: number | null;
  statuses: Record<string, number>;
  duplicatedRows: number;
  stubDuplicates: number;
  stubHits: number;
  /** Most runs of the burst seen pending in the ledger at once, and (broker) ready in the runs queue. */
  maxPending: number;
  maxQueued: number | null;
  resources: Resources;
}

interface QRow {
  job_id: number | string;
  scheduled_at: number | string;
  created_at: number | string;
  started_at: number | string | null;
  finished_at: number | string | null;
  status: string;
}

const FINAL = `'succeeded','failed','timed_out','cancelled','lost'`;

function queueBurst(v: SetupVariant, jobs: number): Promise<QResult> {
  const tag = variantTag('q', 'cluster', v, jobs);
  const run = (): Promise<QResult> =>
    withStub(bench, tag, (stub) =>
      withGocron(
        bench,
        'cluster',
        tag,
        async (g) => {
          await g.migrate();
          const { dispatchers, executors } = await g.up(1, 2);
          const at = wholeSecondAfter(25);
          await g.db.insertJobs(jobRows(jobs, 'q', cronAt(at), `${stub.url}/`));
          await sleepUntil(at - 1000);
          const smp = sampler(bench.work, [...dispatchers, ...executors, stub.proc], {
            ...servicesFor('cluster'),
            ...v.services,
          });
          let maxPending = 0;
          let maxQueued: number | null = v.env.GOCRON_RABBITMQ_URL ? 0 : null;
          const count = async (where: string): Promise<number> =>
            Number(
              (
                await g.db.all<{ n: number }>(
                  `SELECT COUNT(*) AS n FROM runs WHERE scheduled_at = ? AND ${where}`,
                  [at],
                )
              )[0].n,
            );
          await waitFor(
            async () => {
              maxPending = Math.max(maxPending, await count(`status = 'pending'`));
              if (maxQueued !== null) {
                const b = (await (await apiFetch(g.base, '/api/broker')).json()) as {
                  queues: { kind: string; ready: number | null }[];
                };
                const ready = b.queues.filter((q) => q.kind === 'runs').reduce((a, q) => a + (q.ready ?? 0), 0);
                maxQueued = Math.max(maxQueued, ready);
              }
              return (await count(`status IN (${FINAL})`)) >= jobs;
            },
            { timeoutMs: 180_000, intervalMs: 200, what: 'the burst to end' },
          ).catch((e: unknown) => log(`Q ${v.name}: ${String(e)}`));
          const resources = smp.stop();
          const rows = await g.db.all<QRow>(
            `SELECT job_id, scheduled_at, created_at, started_at, finished_at, status FROM runs WHERE scheduled_at = ?`,
            [at],
          );
          const statuses: Record<string, number> = {};
          for (const r of rows) statuses[r.status] = (statuses[r.status] || 0) + 1;
          const started = rows.filter((r) => r.started_at != null);
          const ended = rows.filter((r) => r.finished_at != null).map((r) => Number(r.finished_at));
          const hits = hitsOf(await dumpStub(stub), 'gocron').filter((h) => h.sched === at);
          return {
            transport: v.name,
            jobs,
            executors: 2,
            capacity: Q_CAPACITY,
            ledger: burstStats(
              started.map((r) => ({ key: String(r.job_id), sched: at, start: Number(r.started_at) })),
              jobs,
              at,
            ),
            claimLag: lagStats(rows.map((r) => Number(r.created_at) - at)),
            allEndedAfterMs: ended.length === jobs ? Math.max(...ended) - at : null,
            statuses,
            duplicatedRows: rows.length - new Set(rows.map((r) => String(r.job_id))).size,
            stubDuplicates: hits.length - new Set(hits.map((h) => h.key)).size,
            stubHits: hits.length,
            maxPending,
            maxQueued,
            resources,
          };
        },
        { ...v.env, GOCRON_EXECUTOR_CAPACITY: String(Q_CAPACITY) },
      ),
    );
  return run().finally(() => dropQueues(v, tag, 2));
}

type Attempt = { part: string; transport: string; size: number; result?: unknown; error?: string };

const cpu = (r: Resources, name: RegExp): string => {
  const ps = r.procs.filter((p) => name.test(p.name));
  if (!ps.length || ps.some((p) => p.cpuPct == null)) return '–';
  return `${round1(ps.reduce((a, p) => a + (p.cpuPct ?? 0), 0))} %`;
};
const rss = (r: Resources, name: RegExp): string => {
  const p = r.procs.find((x) => name.test(x.name));
  return p && p.rssPeakMB != null ? `${p.rssPeakMB} MB` : '–';
};
const ms = (x: number | null | undefined): string => (x == null ? '–' : `${x}`);

function table(attempts: Attempt[]): string {
  const lines: string[] = [];
  const w = attempts.filter((a) => a.part === 'w1' && a.result);
  if (w.length) {
    lines.push(
      '| W1 jobs/s | transport | runs/s | missed | dup | ledger lag p50 / p99 ms | row → start p50 / p99 ms | stub lag p50 / p99 ms | dispatcher CPU | executor CPU | broker CPU / RSS |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const a of w) {
      const r = a.result as Awaited<ReturnType<typeof w1Gocron>>;
      const l = r.ledger!;
      lines.push(
        `| ${a.size} | ${a.transport} | ${ms(l.runsPerSec)} | ${l.missed} | ${l.duplicated + l.duplicatedRows} | ${ms(l.lag.p50)} / ${ms(l.lag.p99)} | ${ms(l.offerToStart.p50)} / ${ms(l.offerToStart.p99)} | ${ms(r.stub.lag.p50)} / ${ms(r.stub.lag.p99)} | ${cpu(r.resources, /^dispatcher/)} | ${cpu(r.resources, /^executor/)} | ${cpu(r.resources, /beam/)} / ${rss(r.resources, /beam/)} |`,
      );
    }
    lines.push('');
  }
  const b = attempts.filter((a) => a.part === 'w2' && a.result);
  if (b.length) {
    lines.push(
      '| W2 burst | transport | started | all started after ms | ledger lag p50 / p99 ms | stub lag p50 / p99 ms | dispatcher CPU | executor CPU | broker CPU / RSS |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const a of b) {
      const r = a.result as Awaited<ReturnType<typeof w2Gocron>>;
      const l = r.ledger!;
      lines.push(
        `| ${a.size} | ${a.transport} | ${l.started} | ${ms(l.allStartedAfterMs)} | ${ms(l.lag.p50)} / ${ms(l.lag.p99)} | ${ms(r.stub.lag.p50)} / ${ms(r.stub.lag.p99)} | ${cpu(r.resources, /^dispatcher/)} | ${cpu(r.resources, /^executor/)} | ${cpu(r.resources, /beam/)} / ${rss(r.resources, /beam/)} |`,
      );
    }
    lines.push('');
  }
  const q = attempts.filter((a) => a.part === 'q' && a.result);
  if (q.length) {
    lines.push(
      '| Q burst | transport | started | all started after ms | all ended after ms | lag p50 / p99 ms | max pending (ledger) | max ready (queue) | dup rows / stub dup | statuses | dispatcher CPU | executors CPU | broker CPU / RSS |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const a of q) {
      const r = a.result as QResult;
      lines.push(
        `| ${r.jobs} (2 × ${r.capacity}) | ${a.transport} | ${r.ledger.started} | ${ms(r.ledger.allStartedAfterMs)} | ${ms(r.allEndedAfterMs)} | ${ms(r.ledger.lag.p50)} / ${ms(r.ledger.lag.p99)} | ${r.maxPending} | ${ms(r.maxQueued)} | ${r.duplicatedRows} / ${r.stubDuplicates} | ${Object.entries(
          r.statuses,
        )
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')} | ${cpu(r.resources, /^dispatcher/)} | ${cpu(r.resources, /^executor/)} | ${cpu(r.resources, /beam/)} / ${rss(r.resources, /beam/)} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(join(REPO_ROOT, 'dist/apps/dispatcher/main.js'))) {
    throw new Error('dist/apps/dispatcher/main.js is missing: run `npm run build` first');
  }
  if (TRANSPORTS.includes('rabbitmq') && !brokerPid()) throw new Error('no beam.smp: is RabbitMQ running?');
  const build = work.snapshotDist();
  const attempts: Attempt[] = [];
  const plan: { part: string; size: number; run: (v: SetupVariant) => Promise<unknown> }[] = [];
  if (PARTS.includes('w1')) {
    for (const n of options.w1Sizes) plan.push({ part: 'w1', size: n, run: (v) => w1Gocron(bench, 'cluster', n, v) });
  }
  if (PARTS.includes('w2')) {
    plan.push({ part: 'w2', size: options.w2Jobs, run: (v) => w2Gocron(bench, 'cluster', options.w2Jobs, v) });
  }
  if (PARTS.includes('q')) plan.push({ part: 'q', size: Q_JOBS, run: (v) => queueBurst(v, Q_JOBS) });
  for (const step of plan) {
    for (const transport of TRANSPORTS) {
      const v = variant(transport);
      const label = `${step.part} ${transport} ${step.size}`;
      log(`${label} …`);
      const a: Attempt = { part: step.part, transport, size: step.size };
      try {
        a.result =
          step.part === 'q'
            ? await step.run(v)
            : await step.run(v).finally(() => dropQueues(v, variantTag(step.part, 'cluster', v, step.size), 1));
        log(`${label}: ${JSON.stringify(a.result).slice(0, 400)}`);
      } catch (e) {
        a.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
        log(`${label} FAILED: ${a.error}`);
        work.keep();
      }
      attempts.push(a);
    }
  }
  const c = cpus();
  const results = {
    runId: bench.runId,
    finishedAt: new Date().toISOString(),
    machine: { nproc: c.length, cpuModel: c[0]?.model, ramGB: round1(totalmem() / 2 ** 30), node: process.version },
    build,
    load: loadavg(),
    options: { parts: PARTS, transports: TRANSPORTS, seconds: options.seconds, w1Sizes: options.w1Sizes },
    attempts,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(results, null, 2));
  process.stdout.write(`${table(attempts)}\n`);
  log(`results: ${OUT}`);
  if (attempts.some((a) => a.error)) process.exitCode = 1;
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
