// What the missed-tick watchdog costs: N enabled jobs (default 100,000) ticking every minute, each with ten minutes
// of ticks to verify, all recorded but one tick of every 100th job (a hole between recorded ticks). The dispatcher's
// own MissedTickSweeper (with the real claim pipeline, on the real ledger) sweeps until every watermark is past
// now − missed_grace; then one more sweep with nothing due. Per dialect: sweeps, time, the process's CPU, jobs and
// ticks verified per second, the misses recorded (must equal the holes), and the cost of a sweep with nothing to do.
//   node --import tsx bench/watchdog-cost.ts [--jobs=100000] [--dialects=sqlite,mysql]
// Prints one JSON line per dialect.
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadConfig } from '@app/config';
import { InProcessLock } from '@app/locking';
import { dataSourceOptions, JobsRepository, migrate, RunBatchRepository, RunsRepository } from '@app/persistence';
import type { Timers } from '../apps/dispatcher/src/common/timers.service';
import type { EventsService } from '../apps/dispatcher/src/events/events.service';
import type { ExecutorPool } from '../apps/dispatcher/src/executor-client/executor-pool.service';
import type { RunCanceller } from '../apps/dispatcher/src/launching/run-canceller.service';
import type { RunLauncher } from '../apps/dispatcher/src/launching/run-launcher.service';
import { JobCursors } from '../apps/dispatcher/src/scheduling/job-cursors';
import { MissedTickSweeper } from '../apps/dispatcher/src/scheduling/missed-tick-sweeper';
import { TickClaimer } from '../apps/dispatcher/src/scheduling/tick-claimer';
import { createMysqlDatabase, tmpDir } from '../test/support/services';
import { jobRows, LedgerDb, openMysqlLedger, openSqliteLedger } from './lib/ledger-db';

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const JOBS = Number(arg('jobs', '100000'));
const DIALECTS = arg('dialects', 'sqlite,mysql').split(',');
const MINUTE = 60_000;
const TICKS = 10;
const HOLE_EVERY = 100;

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
  'output_truncated',
  'created_at',
  'updated_at',
] as const;

async function bench(dialect: string): Promise<Record<string, unknown>> {
  const overrides: Record<string, string> = {};
  let drop: () => Promise<void> = () => Promise.resolve();
  let db: LedgerDb;
  if (dialect === 'sqlite') {
    overrides.GOCRON_DATABASE_PATH = join(tmpDir('bench-watchdog'), 'gocron.sqlite');
  } else {
    const t = await createMysqlDatabase('bench_watchdog');
    Object.assign(overrides, t.env);
    drop = () => t.drop();
  }
  const config = loadConfig(join(__dirname, '../conf/conf.ini'), { ...process.env, ...overrides });
  const ds = new DataSource(dataSourceOptions(config.database));
  await ds.initialize();
  await migrate(ds);
  if (dialect === 'sqlite') db = openSqliteLedger(config.database.path);
  else {
    const d = config.database;
    db = openMysqlLedger({
      connection: { host: d.host, port: d.port, user: d.username, password: d.password, database: d.database },
    });
  }

  // Ten ticks to verify per job: the minutes up to 2 minutes ago (missed_grace 120 s: the sweep looks up to now − 120 s).
  const now = Math.floor(Date.now() / MINUTE) * MINUTE + 30_000;
  const from = now - 30_000 - (TICKS + 1) * MINUTE;
  const t0 = Date.now();
  await db.insertJobs(jobRows(JOBS, 'watchdog', '0 * * * * *', 'http://127.0.0.1:9/'));
  await db.run(`UPDATE jobs SET verify_from = ?, schedule_set_at = ?, last_tick_at = ?`, [from, from - MINUTE, now]);
  const ids = (await db.all<{ id: number }>('SELECT id FROM jobs ORDER BY id')).map((r) => Number(r.id));
  let rows: unknown[][] = [];
  let holes = 0;
  for (let k = 0; k < TICKS; k++) {
    const at = from + k * MINUTE;
    for (const [i, jobId] of ids.entries()) {
      if (i % HOLE_EVERY === 0 && k === TICKS / 2) {
        holes++;
        continue;
      }
      rows.push([jobId, String(at / 1000), 1, '', at, 'schedule', 'succeeded', at, at + 1000, 0, at, at + 500]);
      if (rows.length === 50_000) {
        await db.insertRows('runs', RUN_COLUMNS, rows);
        rows = [];
      }
    }
  }
  if (rows.length) await db.insertRows('runs', RUN_COLUMNS, rows);
  const fillMs = Date.now() - t0;

  const jobs = new JobsRepository(ds);
  const runs = new RunsRepository(ds);
  const timers = {} as Timers;
  const events = { runChanged: () => undefined } as unknown as EventsService;
  const claimer = new TickClaimer(
    new InProcessLock(),
    config,
    new RunBatchRepository(ds),
    runs,
    {} as RunLauncher,
    {} as RunCanceller,
    {} as ExecutorPool,
    events,
  );
  const lock = new InProcessLock();
  const sweeper = new MissedTickSweeper(jobs, runs, new JobCursors(jobs, runs, timers), claimer, timers, config, lock);
  sweeper.watchSince = 0;

  const sweeps: { ms: number; missed: number }[] = [];
  const cpu0 = process.cpuUsage();
  const started = Date.now();
  for (let i = 0; i < 50; i++) {
    const s = Date.now();
    const missed = await sweeper.sweep(now);
    sweeps.push({ ms: Date.now() - s, missed });
    const [left] = await db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE verify_from <= ?`, [
      now - 120_000,
    ]);
    if (Number(left.n) === 0) break;
  }
  const ms = Date.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const idleStart = process.hrtime.bigint();
  await sweeper.sweep(now);
  const idleMs = Number(process.hrtime.bigint() - idleStart) / 1e6;
  const [missedRows] = await db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM runs WHERE status = 'missed'`);
  await db.close();
  await ds.destroy();
  await drop();
  return {
    dialect,
    jobs: JOBS,
    ticksPerJob: TICKS,
    holes,
    fillMs,
    sweeps: sweeps.length,
    sweepMs: sweeps.map((s) => s.ms),
    totalMs: ms,
    processCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    jobsPerSec: Math.round((JOBS / ms) * 1000),
    ticksPerSec: Math.round(((JOBS * TICKS) / ms) * 1000),
    missedRecorded: Number(missedRows.n),
    idleSweepMs: Math.round(idleMs * 10) / 10,
  };
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
