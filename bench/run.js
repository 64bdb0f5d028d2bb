#!/usr/bin/env node
// gocron-ts vs BullMQ job schedulers, side by side in one run (issue 5).
//
//   node bench/run.js [w1] [w3] [--seconds=60] [--w1-sizes=100,1000] [--w3-sizes=10000,100000]
//                     [--systems=embedded,cluster,bullmq] [--capacity=256] [--bull-concurrency=100] [--no-report]
//
// Needs `npm run build` (dist/apps/*/main.js) and, for the cluster setup and BullMQ, MariaDB/MySQL, Redis and etcd
// on loopback (scripts/test-services.sh starts them; GOCRON_TEST_* variables from it are honoured). Every scenario
// starts what it needs as child processes (stub, dispatcher, executor, BullMQ worker) and kills them afterwards, also
// on failure or Ctrl-C. Results go to bench/results/latest.json and docs/benchmarks.md + docs/benchmarks.svg.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const NODE = process.execPath;
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const sleepUntil = (t) => sleep(t - Date.now());

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
const flag = (name, def) => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
};
const ALL = ['w1', 'w2', 'w3'];
const scenarios = argv.filter((a) => !a.startsWith('--')).map((s) => s.toLowerCase());
const chosen = scenarios.length ? scenarios : ALL;
for (const s of chosen) if (!ALL.includes(s)) throw new Error(`unknown scenario ${s} (known: ${ALL.join(', ')})`);
const OPT = {
  seconds: Number(flag('seconds', 60)),
  w1Sizes: flag('w1-sizes', '100,1000').split(',').map(Number),
  w3Sizes: flag('w3-sizes', '10000,100000').split(',').map(Number),
  systems: flag('systems', 'embedded,cluster,bullmq').split(','),
  capacity: Number(flag('capacity', 256)),
  bullConcurrency: Number(flag('bull-concurrency', 100)),
  report: !argv.includes('--no-report'),
  out: flag('out', path.join(__dirname, 'results', 'latest.json')),
  w2Jobs: Number(flag('w2-jobs', 5000)),
  merge: argv.includes('--merge'), // keep the other scenarios of the results file, replace the ones run now
};

const SVC = {
  mysqlHost: process.env.GOCRON_TEST_MYSQL_HOST || '127.0.0.1',
  mysqlPort: Number(process.env.GOCRON_TEST_MYSQL_PORT || 3306),
  mysqlUser: process.env.GOCRON_TEST_MYSQL_USER || 'root',
  mysqlPassword: process.env.GOCRON_TEST_MYSQL_PASSWORD || '',
  redisUrl: process.env.GOCRON_TEST_REDIS_URL || 'redis://127.0.0.1:6379',
  etcdHosts: process.env.GOCRON_TEST_ETCD_HOSTS || 'http://127.0.0.1:2379',
};
const RUN_ID = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'gocron-bench-'));
// The tree is edited and rebuilt while we run: measure one snapshot of dist/ (node_modules and proto/ linked).
const SNAP = path.join(WORK, 'snap');
function snapshotDist() {
  fs.mkdirSync(path.join(SNAP, 'dist', 'apps'), { recursive: true });
  for (const app of ['dispatcher', 'executor']) {
    fs.cpSync(path.join(ROOT, 'dist', 'apps', app), path.join(SNAP, 'dist', 'apps', app), { recursive: true });
  }
  for (const link of ['node_modules', 'proto', 'conf']) fs.symlinkSync(path.join(ROOT, link), path.join(SNAP, link));
  if (fs.existsSync(path.join(ROOT, 'dist', 'dashboard'))) fs.symlinkSync(path.join(ROOT, 'dist', 'dashboard'), path.join(SNAP, 'dist', 'dashboard'));
  const st = fs.statSync(path.join(ROOT, 'dist/apps/dispatcher/main.js'));
  let commit = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', 'apps', 'libs'], { cwd: ROOT }).toString().trim();
    if (dirty) commit += ' + uncommitted changes in apps/ libs/';
  } catch {
    /* not a git checkout */
  }
  return { commit, distBuiltAt: st.mtime.toISOString() };
}
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

// ---------------------------------------------------------------- child processes
const live = new Set();
let keepWork = false;
function killAll() {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

function start(name, args, env) {
  const log = fs.createWriteStream(path.join(WORK, `${name}.log`), { flags: 'a' });
  const p = spawn(NODE, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  p.benchName = name;
  p.spawnedAt = Date.now();
  p.out = '';
  p.exited = new Promise((r) => p.once('exit', (code, sig) => r({ code, sig })));
  const onData = (d) => {
    log.write(d);
    p.out += d.toString();
    if (p.out.length > 2e6) p.out = p.out.slice(-1e6);
    p.emit('out');
  };
  p.stdout.on('data', onData);
  p.stderr.on('data', onData);
  live.add(p);
  p.once('exit', () => {
    live.delete(p);
    p.dead = true;
    log.end();
  });
  return p;
}

async function stop(p, graceMs = process.env.BENCH_CPU_PROF ? 20_000 : 5000) {
  if (!p || p.dead) return;
  p.kill('SIGTERM');
  const r = await Promise.race([p.exited, sleep(graceMs).then(() => null)]);
  if (!r && !p.dead) {
    p.kill('SIGKILL');
    await p.exited;
  }
}

function waitOut(p, re, timeoutMs) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = p.out.match(re);
      if (m) {
        cleanup();
        resolve({ at: Date.now(), m });
      } else if (p.dead) {
        cleanup();
        reject(new Error(`${p.benchName} exited before /${re.source}/; log: ${path.join(WORK, p.benchName + '.log')}`));
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${p.benchName}: no /${re.source}/ within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      p.off('out', check);
      p.off('exit', check);
    };
    p.on('out', check);
    p.on('exit', check);
    check();
  });
}

async function until(fn, timeoutMs, what, stepMs = 20) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- /proc
function cpuTicks(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return null;
  }
}
function memKb(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) || [])[1] || 0);
    return { rss: get('VmRSS'), hwm: get('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}
function machineTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] || 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { idle, total };
}
function servicePids() {
  const out = {};
  const pg = (n) => {
    try {
      return Number(execFileSync('pgrep', ['-x', n]).toString().trim().split('\n')[0]) || null;
    } catch {
      return null;
    }
  };
  out['redis-server'] = pg('redis-server');
  out.mariadbd = pg('mariadbd') || pg('mysqld');
  out.etcd = pg('etcd');
  return out;
}

/** Samples CPU (utime+stime delta) and RSS of the given processes over [now, stop()]. */
function sampler(procs, services = {}) {
  const targets = [
    ...procs.map((p) => ({ name: p.benchName, pid: p.pid, proc: p })),
    ...Object.entries(services)
      .filter(([, pid]) => pid)
      .map(([name, pid]) => ({ name: `${name} (shared)`, pid, shared: true })),
  ];
  const t0 = Date.now();
  const m0 = machineTicks();
  const c0 = targets.map((t) => cpuTicks(t.pid));
  const peak = targets.map(() => 0);
  const load0 = os.loadavg();
  const tick = () =>
    targets.forEach((t, i) => {
      peak[i] = Math.max(peak[i], memKb(t.pid).rss);
    });
  tick();
  const iv = setInterval(tick, 500);
  return {
    stop() {
      clearInterval(iv);
      tick();
      const secs = (Date.now() - t0) / 1000;
      const m1 = machineTicks();
      const res = targets.map((t, i) => {
        const c1 = cpuTicks(t.pid);
        const mem = memKb(t.pid);
        const died = t.proc && t.proc.dead ? `exited during the window (code ${t.proc.exitCode}, signal ${t.proc.signalCode})` : null;
        if (died) keepWork = true;
        return {
          name: t.name,
          shared: !!t.shared,
          died,
          cpuPct: c0[i] == null || c1 == null ? null : round1(((c1 - c0[i]) / CLK_TCK / secs) * 100),
          rssPeakMB: round1(peak[i] / 1024),
          hwmMB: t.shared ? null : round1(mem.hwm / 1024),
        };
      });
      const busy = 1 - (m1.idle - m0.idle) / (m1.total - m0.total);
      return { seconds: round1(secs), procs: res, machineBusyPct: round1(busy * 100), load: [load0, os.loadavg()] };
    },
  };
}

// ---------------------------------------------------------------- statistics
const round1 = (x) => (x == null || Number.isNaN(x) ? null : Math.round(x * 10) / 10);
function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
function lagStats(xs) {
  const s = Float64Array.from(xs).sort();
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.length ? s[s.length - 1] : null };
}

/** Ticks in [T0, T1) of `jobs` jobs every second: expected, distinct started, missed, duplicated, lag. */
function tickStats(records, jobs, T0, T1) {
  // records: [{key, sched, start}]
  const seconds = (T1 - T0) / 1000;
  const expected = jobs * seconds;
  const inWin = records.filter((r) => r.sched >= T0 && r.sched < T1);
  const seen = new Set();
  let dup = 0;
  const lags = [];
  for (const r of inWin) {
    const k = `${r.key}@${r.sched}`;
    if (seen.has(k)) dup++;
    else {
      seen.add(k);
      lags.push(r.start - r.sched);
    }
  }
  return {
    expected,
    started: seen.size,
    missed: Math.max(0, expected - seen.size),
    duplicated: dup,
    runsPerSec: round1(seen.size / seconds),
    expectedPerSec: jobs,
    lag: lagStats(lags),
  };
}

// ---------------------------------------------------------------- stub
async function startStub(tag) {
  const p = start(`stub-${tag}`, [path.join(__dirname, 'stub.js')], { ...process.env });
  const { m } = await waitOut(p, /listening (\d+)/, 10_000);
  p.url = `http://127.0.0.1:${m[1]}`;
  return p;
}
async function dumpStub(stub) {
  return (await (await fetch(`${stub.url}/__dump`)).json()).map(([t, key, sched]) => ({ key, sched, start: t }));
}

// ---------------------------------------------------------------- gocron setups
function baseEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GOCRON_') && k !== 'NODE_OPTIONS') env[k] = v;
  return env;
}

async function gocronSetup(mode, tag) {
  const id = `${RUN_ID}_${tag}`.replace(/[^a-z0-9_]/gi, '_');
  const dispPort = await freePort();
  const execPort = await freePort();
  const env = {
    ...baseEnv(),
    GOCRON_DISPATCHER_PORT: String(dispPort),
    GOCRON_DISPATCHER_ID: `bench-d-${tag}`,
    GOCRON_EXECUTOR_PORT: String(execPort),
    GOCRON_EXECUTOR_ID: `bench-e-${tag}`,
    GOCRON_EXECUTOR_CAPACITY: String(OPT.capacity),
    GOCRON_EXECUTOR_DRAIN_TIMEOUT: '2',
  };
  const ctx = { mode, tag, env, base: `http://127.0.0.1:${dispPort}`, procs: [] };
  if (mode === 'embedded') {
    const dir = fs.mkdtempSync(path.join(WORK, `sqlite-${tag}-`));
    Object.assign(env, {
      GOCRON_DATABASE_TYPE: 'sqlite',
      GOCRON_DATABASE_PATH: path.join(dir, 'gocron.sqlite'),
      GOCRON_EXECUTOR_STATIC_TARGETS: `127.0.0.1:${execPort}`,
    });
    ctx.q = (c) => `"${c}"`;
    ctx.openDb = () => {
      const Database = require('better-sqlite3');
      const db = new Database(env.GOCRON_DATABASE_PATH);
      db.pragma('busy_timeout = 10000');
      ctx.all = async (sql, params = []) => db.prepare(sql).all(...params);
      ctx.insertJobs = async (rows) => {
        const cols = Object.keys(rows[0]);
        const st = db.prepare(`INSERT INTO jobs (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')})`);
        db.transaction((rs) => {
          for (const r of rs) st.run(...cols.map((c) => r[c]));
        })(rows);
      };
      ctx.closeDb = async () => db.close();
    };
    ctx.cleanup = async () => fs.rmSync(dir, { recursive: true, force: true });
  } else {
    const database = `gocron_bench_${id}`.slice(0, 60);
    Object.assign(env, {
      GOCRON_DATABASE_TYPE: 'mysql',
      GOCRON_DATABASE_HOST: SVC.mysqlHost,
      GOCRON_DATABASE_PORT: String(SVC.mysqlPort),
      GOCRON_DATABASE_USERNAME: SVC.mysqlUser,
      GOCRON_DATABASE_PASSWORD: SVC.mysqlPassword,
      GOCRON_DATABASE_DATABASE: database,
      GOCRON_REDIS_URL: SVC.redisUrl,
      GOCRON_REDIS_PREFIX: `gocron-bench-${id}`,
      GOCRON_ETCD_HOSTS: SVC.etcdHosts,
      GOCRON_ETCD_PREFIX: `/gocron-bench-${id}`,
    });
    const mysql = require('mysql2/promise');
    const admin = await mysql.createConnection({
      host: SVC.mysqlHost,
      port: SVC.mysqlPort,
      user: SVC.mysqlUser,
      password: SVC.mysqlPassword,
    });
    await admin.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    ctx.q = (c) => `\`${c}\``;
    ctx.openDb = async () => {
      const pool = mysql.createPool({
        host: SVC.mysqlHost,
        port: SVC.mysqlPort,
        user: SVC.mysqlUser,
        password: SVC.mysqlPassword,
        database,
        connectionLimit: 2,
        supportBigNumbers: true,
      });
      ctx.all = async (sql, params = []) => (await pool.query(sql, params))[0];
      ctx.insertJobs = async (rows) => {
        const cols = Object.keys(rows[0]);
        for (let i = 0; i < rows.length; i += 2000) {
          const chunk = rows.slice(i, i + 2000).map((r) => cols.map((c) => r[c]));
          await pool.query(`INSERT INTO jobs (${cols.map((c) => `\`${c}\``).join(',')}) VALUES ?`, [chunk]);
        }
      };
      ctx.closeDb = async () => pool.end();
    };
    ctx.cleanup = async () => {
      await admin.query(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => {});
      await admin.end().catch(() => {});
      await delRedisPrefix(env.GOCRON_REDIS_PREFIX);
      try {
        const { Etcd3 } = require('etcd3');
        const etcd = new Etcd3({ hosts: SVC.etcdHosts.split(',') });
        await etcd.delete().prefix(env.GOCRON_ETCD_PREFIX);
        etcd.close();
      } catch {
        /* best effort */
      }
    };
  }
  ctx.health = async () => (await fetch(`${ctx.base}/api/health`)).status === 200;
  // BENCH_CPU_PROF=DIR: dispatcher and executor run with --cpu-prof (the profile is written at a clean exit)
  const prof = process.env.BENCH_CPU_PROF
    ? (name) => ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`, `--cpu-prof-name=${name}-${tag}.cpuprofile`]
    : () => [];
  ctx.startDispatcher = (extraArgs = [], extraEnv = {}) => {
    const p = start(`dispatcher-${tag}`, [...prof('dispatcher'), ...extraArgs, path.join(SNAP, 'dist/apps/dispatcher/main.js')], {
      ...env,
      ...extraEnv,
    });
    ctx.procs.push(p);
    return p;
  };
  ctx.startExecutor = () => {
    const p = start(`executor-${tag}`, [...prof('executor'), path.join(SNAP, 'dist/apps/executor/main.js')], env);
    ctx.procs.push(p);
    return p;
  };
  /** Runs the migrations (one dispatcher start), then opens the bench's own connection. */
  ctx.migrate = async () => {
    const d = ctx.startDispatcher();
    await until(ctx.health, 60_000, `${tag} dispatcher health (migration)`);
    await stop(d);
    ctx.procs = ctx.procs.filter((p) => p !== d);
    await ctx.openDb();
  };
  ctx.waitExecutor = () =>
    until(async () => (await (await fetch(`${ctx.base}/api/executors`)).json()).length >= 1, 60_000, 'executor');
  ctx.stopAll = async () => {
    for (const p of [...ctx.procs].reverse()) await stop(p);
  };
  ctx.dispose = async () => {
    await ctx.stopAll().catch(() => {});
    if (ctx.closeDb) await ctx.closeDb().catch(() => {});
    await ctx.cleanup().catch(() => {});
  };
  return ctx;
}

function jobRow(i, prefix, cron, url, now) {
  return {
    name: `${prefix}-${i}`,
    description: '',
    cron,
    timezone: 'UTC',
    type: 'http',
    command: null,
    env: '{}',
    http: JSON.stringify({ method: 'GET', url, headers: {}, body: '', expectStatus: [200] }),
    timeout_ms: 60000,
    retries: 0,
    retry_backoff_ms: 1000,
    concurrency: 'allow',
    misfire: 'skip',
    group_name: 'default',
    routing: 'round_robin',
    enabled: 1,
    schedule_set_at: now,
    last_tick_at: now,
    next_run_at: null,
    version: 1,
    created_at: now,
    updated_at: now,
  };
}

async function delRedisPrefix(prefix) {
  const IORedis = require('ioredis');
  const r = new IORedis(SVC.redisUrl, { lazyConnect: false });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
async function redisUsedMemory() {
  const IORedis = require('ioredis');
  const r = new IORedis(SVC.redisUrl);
  try {
    const info = await r.info('memory');
    return Number(info.match(/used_memory:(\d+)/)[1]);
  } finally {
    r.disconnect();
  }
}

// ---------------------------------------------------------------- W1 steady
const SVCS_FOR = (system) => {
  const all = servicePids();
  if (system === 'embedded') return {};
  if (system === 'bullmq') return { 'redis-server': all['redis-server'] };
  return all;
};

async function w1Gocron(mode, jobs) {
  const tag = `w1-${mode}-${jobs}`;
  const stub = await startStub(tag);
  const ctx = await gocronSetup(mode, tag);
  try {
    await ctx.migrate();
    const now = Date.now();
    const rows = [];
    for (let i = 0; i < jobs; i++) rows.push(jobRow(i, 'w1', '* * * * * *', `${stub.url}/`, now));
    await ctx.insertJobs(rows);
    const ex = ctx.startExecutor();
    const d = ctx.startDispatcher();
    await waitOut(d, /scheduling (\d+) enabled job/, 120_000);
    await until(ctx.health, 60_000, 'dispatcher health');
    await ctx.waitExecutor();
    const T0 = Math.ceil((Date.now() + 3000) / 1000) * 1000;
    await sleepUntil(T0);
    await dumpStub(stub);
    const smp = sampler([d, ex, stub], SVCS_FOR(mode));
    const T1 = T0 + OPT.seconds * 1000;
    await sleepUntil(T1);
    const res = smp.stop();
    await sleep(5000); // late runs of the window still count, with their lag
    const hits = await dumpStub(stub);
    const t = ctx.q('trigger');
    const dbRows = await ctx.all(
      `SELECT job_id, scheduled_at, created_at, started_at, status FROM runs WHERE ${t} = 'schedule' AND scheduled_at >= ? AND scheduled_at < ?`,
      [T0, T1],
    );
    const statuses = {};
    for (const r of dbRows) statuses[r.status] = (statuses[r.status] || 0) + 1;
    const ledger = tickStats(
      dbRows
        .filter((r) => r.started_at != null)
        .map((r) => ({ key: String(r.job_id), sched: Number(r.scheduled_at), start: Number(r.started_at) })),
      jobs,
      T0,
      T1,
    );
    const stubStats = tickStats(
      hits.filter((h) => h.key.startsWith('g')),
      jobs,
      T0,
      T1,
    );
    // run rows beyond one per tick would be duplicates in the ledger
    const keys = new Set(dbRows.map((r) => `${r.job_id}@${r.scheduled_at}`));
    ledger.duplicatedRows = dbRows.length - keys.size;
    // where the lag goes: tick → row inserted by the dispatcher (claim), row inserted → executor start (offer, gRPC, CAS)
    const inWin = dbRows.filter((r) => r.started_at != null);
    ledger.claimLag = lagStats(inWin.map((r) => Number(r.created_at) - Number(r.scheduled_at)));
    ledger.offerToStart = lagStats(inWin.map((r) => Number(r.started_at) - Number(r.created_at)));
    return { system: mode, jobs, seconds: OPT.seconds, window: [T0, T1], ledger, stub: stubStats, statuses, resources: res };
  } finally {
    await ctx.dispose();
    await stop(stub);
  }
}

async function w1Bull(jobs) {
  const tag = `w1-bullmq-${jobs}`;
  const stub = await startStub(tag);
  const prefix = `bench-bull-${RUN_ID}-${jobs}`;
  const { Queue } = require('bullmq');
  const IORedis = require('ioredis');
  const connection = new IORedis(SVC.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('bench', { connection, prefix });
  let worker;
  try {
    worker = start(`bullmq-worker-${jobs}`, [path.join(__dirname, 'bullmq-worker.js')], {
      ...baseEnv(),
      REDIS_URL: SVC.redisUrl,
      BULL_PREFIX: prefix,
      BULL_QUEUE: 'bench',
      BULL_CONCURRENCY: String(OPT.bullConcurrency),
      STUB_URL: stub.url,
    });
    await waitOut(worker, /worker ready/, 30_000);
    const t0 = Date.now();
    await inBatches(jobs, 100, (i) =>
      queue.upsertJobScheduler(`w1-${i}`, { pattern: '* * * * * *' }, { name: `w1-${i}`, data: {} }),
    );
    const createMs = Date.now() - t0;
    const T0 = Math.ceil((Date.now() + 3000) / 1000) * 1000;
    await sleepUntil(T0);
    await dumpStub(stub);
    const smp = sampler([worker, stub], SVCS_FOR('bullmq'));
    const T1 = T0 + OPT.seconds * 1000;
    await sleepUntil(T1);
    const res = smp.stop();
    await sleep(5000);
    const hits = await dumpStub(stub);
    const stubStats = tickStats(
      hits.filter((h) => h.key.startsWith('b')),
      jobs,
      T0,
      T1,
    );
    return { system: 'bullmq', jobs, seconds: OPT.seconds, window: [T0, T1], stub: stubStats, createMs, resources: res };
  } finally {
    await stop(worker);
    await queue.close().catch(() => {});
    connection.disconnect();
    await delRedisPrefix(prefix).catch(() => {});
    await stop(stub);
  }
}

async function inBatches(n, width, fn) {
  for (let i = 0; i < n; i += width) {
    const ps = [];
    for (let j = i; j < Math.min(n, i + width); j++) ps.push(fn(j));
    await Promise.all(ps);
  }
}


// ---------------------------------------------------------------- W2 burst
/** A cron for exactly one instant today (UTC): `s m h * * *`. */
function cronAt(t) {
  const d = new Date(t);
  return `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} * * *`;
}
function burstStats(records, jobs, at) {
  const first = new Map();
  for (const r of records) if (r.sched === at && !first.has(r.key)) first.set(r.key, r.start);
  const lags = [...first.values()].map((t) => t - at);
  const st = lagStats(lags);
  return { jobs, started: first.size, missed: jobs - first.size, allStartedAfterMs: first.size === jobs ? st.max : null, lag: st };
}

async function w2Gocron(mode, jobs) {
  const tag = `w2-${mode}-${jobs}`;
  const stub = await startStub(tag);
  const ctx = await gocronSetup(mode, tag);
  try {
    await ctx.migrate();
    const ex = ctx.startExecutor();
    const d = ctx.startDispatcher();
    await waitOut(d, /scheduling (\d+) enabled job/, 120_000);
    await until(ctx.health, 60_000, 'dispatcher health');
    await ctx.waitExecutor();
    // the burst instant: far enough ahead for the rows to be inserted and picked up by the reconcile (1 s)
    const at = Math.ceil((Date.now() + 15_000) / 1000) * 1000;
    const now = Date.now();
    const rows = [];
    for (let i = 0; i < jobs; i++) rows.push(jobRow(i, 'w2', cronAt(at), `${stub.url}/`, now));
    await ctx.insertJobs(rows);
    await until(async () => (await ctx.all('SELECT COUNT(*) AS n FROM jobs'))[0].n >= jobs, 10_000, 'rows');
    await sleepUntil(at - 1000);
    const smp = sampler([d, ex, stub], SVCS_FOR(mode));
    await until(
      async () => (await ctx.all(`SELECT COUNT(*) AS n FROM runs WHERE scheduled_at = ? AND started_at IS NOT NULL`, [at]))[0].n >= jobs,
      60_000,
      'burst started',
      250,
    ).catch(() => null);
    const res = smp.stop();
    await sleep(1000);
    const hits = await dumpStub(stub);
    const dbRows = await ctx.all(`SELECT job_id, scheduled_at, created_at, started_at FROM runs WHERE scheduled_at = ? AND started_at IS NOT NULL`, [at]);
    const ledger = burstStats(dbRows.map((r) => ({ key: String(r.job_id), sched: Number(r.scheduled_at), start: Number(r.started_at) })), jobs, at);
    ledger.claimLag = lagStats(dbRows.map((r) => Number(r.created_at) - at));
    return { system: mode, jobs, at, ledger, stub: burstStats(hits.filter((h) => h.key.startsWith('g')), jobs, at), resources: res };
  } finally {
    await ctx.dispose();
    await stop(stub);
  }
}

async function w2Bull(jobs) {
  const tag = `w2-bullmq-${jobs}`;
  const stub = await startStub(tag);
  const prefix = `bench-bull-${RUN_ID}-w2-${jobs}`;
  const { Queue } = require('bullmq');
  const IORedis = require('ioredis');
  const connection = new IORedis(SVC.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('bench', { connection, prefix });
  let worker;
  try {
    worker = start(`bullmq-worker-w2-${jobs}`, [path.join(__dirname, 'bullmq-worker.js')], {
      ...baseEnv(),
      REDIS_URL: SVC.redisUrl,
      BULL_PREFIX: prefix,
      BULL_QUEUE: 'bench',
      BULL_CONCURRENCY: String(OPT.bullConcurrency),
      STUB_URL: stub.url,
    });
    await waitOut(worker, /worker ready/, 30_000);
    const at = Math.ceil((Date.now() + 15_000) / 1000) * 1000;
    await inBatches(jobs, 200, (i) => queue.upsertJobScheduler(`w2-${i}`, { pattern: cronAt(at) }, { name: `w2-${i}`, data: {} }));
    await sleepUntil(at - 1000);
    await dumpStub(stub);
    const smp = sampler([worker, stub], SVCS_FOR('bullmq'));
    let hits = [];
    await until(
      async () => {
        hits = hits.concat(await dumpStub(stub));
        return new Set(hits.filter((h) => h.sched === at).map((h) => h.key)).size >= jobs;
      },
      60_000,
      'BullMQ burst started',
      250,
    ).catch(() => null);
    const res = smp.stop();
    return { system: 'bullmq', jobs, at, stub: burstStats(hits.filter((h) => h.key.startsWith('b')), jobs, at), resources: res };
  } finally {
    await stop(worker);
    await queue.close().catch(() => {});
    connection.disconnect();
    await delRedisPrefix(prefix).catch(() => {});
    await stop(stub);
  }
}

// ---------------------------------------------------------------- W3 scale
async function w3Gocron(mode, jobs) {
  const tag = `w3-${mode}-${jobs}`;
  const stub = await startStub(tag);
  const ctx = await gocronSetup(mode, tag);
  const probe = path.join(WORK, `probe-${tag}.json`);
  try {
    await ctx.migrate();
    const now = Date.now();
    const rows = [];
    for (let i = 0; i < jobs; i++) rows.push(jobRow(i, 'w3', '0 0 * * * *', `${stub.url}/`, now));
    const ti = Date.now();
    await ctx.insertJobs(rows);
    const insertMs = Date.now() - ti;
    rows.length = 0;
    const ex = ctx.startExecutor();
    const d = ctx.startDispatcher(['--expose-gc', '-r', path.join(__dirname, 'probe.js')], { BENCH_PROBE_FILE: probe });
    const t0 = d.spawnedAt;
    const logP = waitOut(d, /scheduling (\d+) enabled job\(s\)(?:, loaded in (\d+) ms)?/, 300_000);
    logP.catch(() => {});
    const healthAt = await until(async () => (await ctx.health()) && Date.now(), 300_000, 'dispatcher health', 10);
    const { at: logAt, m } = await logP;
    await ctx.waitExecutor();
    await sleep(3000);
    // idle cost with N jobs loaded: CPU over 10 s (reconcile, timers)
    const smp = sampler([d, ex], SVCS_FOR(mode));
    await sleep(10_000);
    const idle = smp.stop();
    const memBeforeGc = memKb(d.pid);
    let heapBeforeGc = null;
    try {
      heapBeforeGc = JSON.parse(fs.readFileSync(probe, 'utf8'));
    } catch {
      /* no probe */
    }
    // retained figures: the probe runs a full GC on SIGUSR2 and writes memoryUsage() right after
    const beforeSignal = Date.now();
    d.kill('SIGUSR2');
    let heap = heapBeforeGc;
    await until(
      () => {
        const h = JSON.parse(fs.readFileSync(probe, 'utf8'));
        if (h.gc && h.t >= beforeSignal) return (heap = h);
        return null;
      },
      10_000,
      'probe after GC',
      50,
    ).catch(() => null);
    await sleep(200);
    const mem = memKb(d.pid);
    // a job update: PATCH job 1 to every second; when does it run?
    const [{ id: jobId }] = await ctx.all(`SELECT MIN(id) AS id FROM jobs`);
    const tp = Date.now();
    const resp = await fetch(`${ctx.base}/api/jobs/${jobId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cron: '* * * * * *' }),
    });
    const patchMs = Date.now() - tp;
    const answer = await resp.json();
    const first = await until(
      async () => {
        const r = await ctx.all(
          `SELECT scheduled_at, started_at FROM runs WHERE job_id = ? AND started_at IS NOT NULL ORDER BY scheduled_at LIMIT 1`,
          [jobId],
        );
        return r.length ? r[0] : null;
      },
      30_000,
      'first run after PATCH',
      25,
    ).catch(() => null);
    return {
      system: mode,
      jobs,
      insertMs,
      coldStart: {
        healthMs: healthAt - t0,
        schedulingLogMs: logAt - t0,
        loadedInMs: m[2] ? Number(m[2]) : null,
        scheduledCount: Number(m[1]),
      },
      rssMB: round1(mem.rss / 1024),
      hwmMB: round1(mem.hwm / 1024),
      heapUsedMB: heap ? round1(heap.heapUsed / 1048576) : null,
      heapTotalMB: heap ? round1(heap.heapTotal / 1048576) : null,
      beforeGc: {
        rssMB: round1(memBeforeGc.rss / 1024),
        heapUsedMB: heapBeforeGc ? round1(heapBeforeGc.heapUsed / 1048576) : null,
      },
      rssPerJobKB: round1(mem.rss / jobs),
      heapPerJobKB: heap ? round1(heap.heapUsed / 1024 / jobs) : null,
      idle,
      patch: {
        status: resp.status,
        patchMs,
        nextRunAt: answer.nextRunAt,
        nextRunInMs: answer.nextRunAt ? Date.parse(answer.nextRunAt) - tp : null,
        firstRunStartedAfterMs: first ? Number(first.started_at) - tp : null,
        firstRunLagMs: first ? Number(first.started_at) - Number(first.scheduled_at) : null,
      },
    };
  } finally {
    await ctx.dispose();
    await stop(stub);
  }
}

async function w3Bull(jobs) {
  const tag = `w3-bullmq-${jobs}`;
  const stub = await startStub(tag);
  const prefix = `bench-bull-${RUN_ID}-w3-${jobs}`;
  const { Queue } = require('bullmq');
  const IORedis = require('ioredis');
  const connection = new IORedis(SVC.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('bench', { connection, prefix });
  let worker;
  try {
    const mem0 = await redisUsedMemory();
    const t0 = Date.now();
    await inBatches(jobs, 200, (i) =>
      queue.upsertJobScheduler(`w3-${i}`, { pattern: '0 0 * * * *' }, { name: `w3-${i}`, data: {} }),
    );
    const createMs = Date.now() - t0;
    const mem1 = await redisUsedMemory();
    worker = start(`bullmq-worker-w3-${jobs}`, [path.join(__dirname, 'bullmq-worker.js')], {
      ...baseEnv(),
      REDIS_URL: SVC.redisUrl,
      BULL_PREFIX: prefix,
      BULL_QUEUE: 'bench',
      BULL_CONCURRENCY: String(OPT.bullConcurrency),
      STUB_URL: stub.url,
    });
    const ready = await waitOut(worker, /worker ready/, 60_000);
    await sleep(3000);
    const smp = sampler([worker], SVCS_FOR('bullmq'));
    await sleep(10_000);
    const idle = smp.stop();
    const wm = memKb(worker.pid);
    await dumpStub(stub);
    const tp = Date.now();
    await queue.upsertJobScheduler('w3-0', { pattern: '* * * * * *' }, { name: 'w3-0', data: {} });
    const patchMs = Date.now() - tp;
    const hit = await until(
      async () => {
        const h = (await dumpStub(stub)).filter((x) => x.key === 'bw3-0');
        return h.length ? h[0] : null;
      },
      30_000,
      'BullMQ first run after update',
      25,
    ).catch(() => null);
    return {
      system: 'bullmq',
      jobs,
      createMs,
      redisBytesPerJob: Math.round((mem1 - mem0) / jobs),
      redisDeltaMB: round1((mem1 - mem0) / 1048576),
      workerColdStartMs: ready.at - worker.spawnedAt,
      workerRssMB: round1(wm.rss / 1024),
      idle,
      patch: {
        patchMs,
        firstRunStartedAfterMs: hit ? hit.start - tp : null,
        firstRunLagMs: hit ? hit.start - hit.sched : null,
      },
    };
  } finally {
    await stop(worker);
    await queue.close().catch(() => {});
    connection.disconnect();
    await delRedisPrefix(prefix).catch(() => {});
    await stop(stub);
  }
}

// ---------------------------------------------------------------- main
function machine() {
  const cpus = os.cpus();
  return {
    nproc: cpus.length,
    cpuModel: cpus[0] && cpus[0].model,
    ramGB: round1(os.totalmem() / 1073741824),
    node: process.version,
    bullmq: require('bullmq/package.json').version,
    kernel: os.release(),
  };
}

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist/apps/dispatcher/main.js'))) {
    throw new Error('dist/apps/dispatcher/main.js is missing: run `npm run build` first');
  }
  const results = {
    runId: RUN_ID,
    startedAt: new Date().toISOString(),
    machine: machine(),
    build: snapshotDist(),
    options: OPT,
    loadAtStart: os.loadavg(),
    w1: [],
    w2: [],
    w3: [],
    errors: [],
  };
  const log = (s) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
  const attempt = async (label, fn, into) => {
    log(`${label} …`);
    try {
      const r = await fn();
      into.push(r);
      log(`${label}: ${JSON.stringify(r.ledger ? [r.ledger.lag, r.ledger.started] : r.stub ? [r.stub.lag, r.stub.started] : r.coldStart || r.createMs)}`);
    } catch (e) {
      log(`${label} FAILED: ${e.stack}`);
      results.errors.push({ label, error: String(e.message) });
      keepWork = true;
    }
  };
  if (chosen.includes('w1')) {
    for (const n of OPT.w1Sizes) {
      for (const sys of OPT.systems) {
        if (sys === 'bullmq') await attempt(`W1 bullmq ${n}`, () => w1Bull(n), results.w1);
        else await attempt(`W1 ${sys} ${n}`, () => w1Gocron(sys, n), results.w1);
      }
    }
  }
  if (chosen.includes('w2')) {
    for (const sys of OPT.systems) {
      if (sys === 'bullmq') await attempt(`W2 bullmq ${OPT.w2Jobs}`, () => w2Bull(OPT.w2Jobs), results.w2);
      else await attempt(`W2 ${sys} ${OPT.w2Jobs}`, () => w2Gocron(sys, OPT.w2Jobs), results.w2);
    }
  }
  if (chosen.includes('w3')) {
    for (const n of OPT.w3Sizes) {
      for (const sys of OPT.systems) {
        if (sys === 'bullmq') await attempt(`W3 bullmq ${n}`, () => w3Bull(n), results.w3);
        else await attempt(`W3 ${sys} ${n}`, () => w3Gocron(sys, n), results.w3);
      }
    }
  }
  results.finishedAt = new Date().toISOString();
  results.loadAtEnd = os.loadavg();
  fs.mkdirSync(path.dirname(OPT.out), { recursive: true });
  if (OPT.merge && fs.existsSync(OPT.out)) {
    // scenarios not run now come from the earlier run (each scenario's systems still come from one run)
    const prev = JSON.parse(fs.readFileSync(OPT.out, 'utf8'));
    results.merged = { from: prev.runId, scenarios: ALL.filter((s) => !chosen.includes(s) && prev[s] && prev[s].length) };
    for (const s of results.merged.scenarios) results[s] = prev[s];
    // Which run each scenario's figures come from, carried across merges.
    results.provenance = {};
    for (const s of ALL) {
      if (chosen.includes(s)) results.provenance[s] = results.runId;
      else if (results.merged.scenarios.includes(s)) results.provenance[s] = (prev.provenance && prev.provenance[s]) || prev.runId;
    }
    results.earlier = { runId: prev.runId, startedAt: prev.startedAt, finishedAt: prev.finishedAt, loadAtStart: prev.loadAtStart, loadAtEnd: prev.loadAtEnd, build: prev.build };
  }
  fs.writeFileSync(OPT.out, JSON.stringify(results, null, 2));
  log(`results: ${OPT.out}`);
  if (OPT.report) {
    const { writeReport } = require('./report');
    writeReport(results);
    log('wrote docs/benchmarks.md and docs/benchmarks.svg');
  }
}

main()
  .catch((e) => {
    process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    killAll();
    if (process.exitCode || keepWork || process.env.BENCH_KEEP) process.stderr.write(`logs kept in ${WORK}\n`);
    else fs.rmSync(WORK, { recursive: true, force: true });
  });

module.exports = { lagStats, tickStats };
