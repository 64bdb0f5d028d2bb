// What ledger retention costs: a history of N runs (default 1,000,000: 1,000 jobs × 1,000 runs spread over the last
// 60 days, 100 bytes of output each) pruned by the dispatcher's own Retention pass, by age (max_age_days 30), then
// by count (max_runs_per_job 100), then output (keep_output_runs 10), on SQLite and on MariaDB. Meanwhile a writer
// claims 100 runs every 100 ms through the claim path's statement (RunBatchRepository.claimMany, 1,000 runs/s as in
// W1, on 1,000 jobs of its own), and its statement latency is compared with the same writer on the same ledger while nothing prunes.
//   node --import tsx bench/retention.ts [--runs=1000000] [--dialects=sqlite,mysql]
// Prints one JSON line per dialect.
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { AppConfig, DatabaseConfig, RetentionConfig } from '@app/config';
import { InProcessLock } from '@app/locking';
import {
  dataSourceOptions,
  migrate,
  NewRun,
  RetentionRepository,
  RunBatchRepository,
  RunLinksRepository,
} from '@app/persistence';
import type { Timers } from '../apps/dispatcher/src/common/timers.service';
import { Retention } from '../apps/dispatcher/src/retention/retention.service';
import { createMysqlDatabase, tmpDir } from '../test/support/services';
import { jobRows, LedgerDb, openMysqlLedger, openSqliteLedger } from './lib/ledger-db';
import { lagStats } from './lib/stats';

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const RUNS = Number(arg('runs', '1000000'));
const DIALECTS = arg('dialects', 'sqlite,mysql').split(',');
const JOBS = 1000;
const DAY = 86_400_000;
const noTimers = { every: () => undefined, clearInterval: () => undefined } as unknown as Timers;

const RUN_COLUMNS = [
  'job_id',
  'tick_key',
  'attempt',
  'executor_key',
  'scheduled_at',
  'trigger',
  'status',
  'not_before',
  'deadline_at',
  'output',
  'output_truncated',
  'created_at',
  'updated_at',
] as const;

async function fill(db: LedgerDb, now: number): Promise<void> {
  await db.insertJobs(jobRows(JOBS, 'retention', '0 0 1 1 *', 'http://127.0.0.1:9/'));
  const ids = (await db.all<{ id: number }>('SELECT id FROM jobs ORDER BY id')).map((r) => Number(r.id));
  // W1's jobs: the writer's runs go to jobs of their own, so the per-job limits prune the history alone.
  await db.insertJobs(jobRows(JOBS, 'w1', '0 0 1 1 *', 'http://127.0.0.1:9/'));
  const perJob = Math.ceil(RUNS / JOBS);
  const output = 'x'.repeat(100);
  const page = 50_000;
  let rows: unknown[][] = [];
  // Oldest first, as a real ledger grows: ids follow time.
  for (let k = 0; k < perJob; k++) {
    const at = now - 60 * DAY + Math.floor((k / perJob) * 59 * DAY);
    for (const jobId of ids) {
      rows.push([jobId, `t${k}`, 1, '', at, 'schedule', 'succeeded', at, at + 1000, output, 0, at, at + 500]);
      if (rows.length === page) {
        await db.insertRows('runs', RUN_COLUMNS, rows);
        rows = [];
      }
    }
  }
  if (rows.length) await db.insertRows('runs', RUN_COLUMNS, rows);
}

/** Claims 100 new runs every 100 ms until stopped; answers each statement's latency in ms. */
function claimLoop(batch: RunBatchRepository, jobIds: number[], label: string) {
  const latencies: number[] = [];
  let stop = false;
  let n = 0;
  const done = (async () => {
    while (!stop) {
      const t = Date.now();
      const rows: NewRun[] = [];
      for (let i = 0; i < 100; i++) {
        const jobId = jobIds[n++ % jobIds.length];
        rows.push({
          jobId,
          tickKey: `${label}${n}`,
          attempt: 1,
          scheduledAt: t,
          trigger: 'schedule',
          status: 'pending',
          notBefore: t,
          deadlineAt: t + 60_000,
          dispatcherId: 'bench',
        });
      }
      const t0 = process.hrtime.bigint();
      await batch.claimMany(rows, t);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - t))));
    }
  })();
  return {
    async stop() {
      stop = true;
      await done;
      return lagStats(latencies);
    },
  };
}

async function bench(dialect: string): Promise<Record<string, unknown>> {
  let config: DatabaseConfig;
  let drop: () => Promise<void> = () => Promise.resolve();
  if (dialect === 'sqlite') {
    const path = join(tmpDir('bench-retention'), 'gocron.sqlite');
    config = { type: 'sqlite', path, username: '', password: '', host: '', port: 0, database: '', charset: '' };
  } else {
    const t = await createMysqlDatabase('bench_retention');
    const c = t.connection;
    config = {
      type: 'mysql',
      path: '',
      host: c.host,
      port: c.port,
      username: c.user,
      password: c.password,
      database: c.database,
      charset: 'utf8mb4',
    };
    drop = () => t.drop();
  }
  const ds = new DataSource(dataSourceOptions(config));
  await ds.initialize();
  await migrate(ds);
  const db: LedgerDb =
    dialect === 'sqlite'
      ? openSqliteLedger(config.path)
      : openMysqlLedger({
          connection: {
            host: config.host,
            port: config.port,
            user: config.username,
            password: config.password,
            database: config.database,
          },
        });
  const now = Date.now();
  const t0 = Date.now();
  await fill(db, now);
  const fillMs = Date.now() - t0;
  const jobIds = (await db.all<{ id: number }>(`SELECT id FROM jobs WHERE name LIKE 'w1-%' ORDER BY id`)).map((r) =>
    Number(r.id),
  );
  const batch = new RunBatchRepository(ds);
  const repo = new RetentionRepository(ds);

  if (process.argv.includes('--explain')) {
    const probe = `SELECT r.id FROM runs r WHERE r.updated_at < ? AND r.updated_at >= 0 AND (r.updated_at > 0 OR r.id > 0)
      AND r.status NOT IN ('pending', 'running')
      AND (r.id < (SELECT MAX(m.id) FROM runs m WHERE m.job_id = r.job_id)) ORDER BY r.updated_at, r.id LIMIT 500`;
    const explain = dialect === 'sqlite' ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN';
    process.stderr.write(`${JSON.stringify(await db.all(`${explain} ${probe}`, [now - 30 * DAY]))}\n`);
  }
  const baseline = claimLoop(batch, jobIds, 'base');
  await new Promise((r) => setTimeout(r, 10_000));
  const idle = await baseline.stop();

  const phases: Record<string, unknown>[] = [];
  const limits: [string, Partial<RetentionConfig>][] = [
    ['max_age_days 30', { maxAgeDays: 30 }],
    ['max_runs_per_job 100', { maxRunsPerJob: 100 }],
    ['keep_output_runs 10', { keepOutputRuns: 10 }],
  ];
  for (const [name, l] of limits) {
    const retention = new Retention(repo, new RunLinksRepository(ds), noTimers, new InProcessLock(), {
      redis: { url: '', prefix: 'bench' },
      retention: { maxRunsPerJob: 0, maxAgeDays: 0, keepOutputRuns: 0, intervalSeconds: 60, ...l },
    } as AppConfig);
    const writer = claimLoop(batch, jobIds, `p${phases.length}-`);
    const started = Date.now();
    const cpu0 = process.cpuUsage();
    const counts = await retention.pass(Date.now());
    const ms = Date.now() - started;
    const cpu = process.cpuUsage(cpu0);
    const during = await writer.stop();
    const touched = counts.deleted + counts.outputsCleared;
    phases.push({
      phase: name,
      ...counts,
      ms,
      rowsPerSec: Math.round((touched / ms) * 1000),
      benchProcessCpuMs: Math.round((cpu.user + cpu.system) / 1000),
      claimLatencyMs: during,
    });
  }
  const left = Number((await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM runs'))[0].n);
  await db.close();
  await ds.destroy();
  await drop();
  return { dialect, runs: RUNS, jobs: JOBS, fillMs, claimLatencyIdleMs: idle, phases, rowsLeft: left };
}

async function main(): Promise<void> {
  for (const d of DIALECTS) process.stdout.write(`${JSON.stringify(await bench(d))}\n`);
}

void main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
