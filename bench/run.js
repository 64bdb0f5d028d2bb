#!/usr/bin/env node
// gocron-ts vs BullMQ job schedulers, side by side in one run (issue 5).
//
//   node bench/run.js [w1] [w2] [w3] [w4] [w5] [--seconds=60] [--w1-sizes=100,1000] [--w2-jobs=5000]
//                     [--w3-sizes=10000,100000] [--w4-jobs=200] [--w4-stamp] [--w5-rate=1000]
//                     [--w5-combos=1d1e,2d1e,1d2e,2d2e] [--systems=embedded,cluster,bullmq] [--capacity=2048]
//                     [--bull-concurrency=100] [--out=bench/results/latest.json] [--merge] [--no-report]
//                     [--report-dir=docs] [--warmup=10]
//
// W1 steady (N HTTP jobs every second), W2 burst (N jobs due the same second), W3 scale (N hourly jobs loaded),
// W4 shell (N jobs every second running `true`: spawn cost and lag; --w4-stamp adds a gocron-ts variant running
// `date +%s%3N`, whose output dates the command's own start), W5 cluster (W1 at --w5-rate jobs/s on the cluster
// setup with 1 or 2 dispatchers × 1 or 2 executors: throughput, duplicates, Redis and MariaDB load). No scenario
// named: all of them.
//
// `npm run bench` (scripts/bench.sh) starts MariaDB, Redis and etcd (scripts/test-services.sh), builds, then runs
// this; run directly, it needs `npm run build` (dist/apps/*/main.js) and those services on loopback (GOCRON_TEST_*
// variables from scripts/test-services.sh are honoured). Every scenario
// starts what it needs as child processes (stub, dispatcher, executor, BullMQ worker) and kills them afterwards, also
// on failure or Ctrl-C. Results go to --out (bench/results/latest.json; --merge keeps the file's other scenarios) and
// to benchmarks.md + benchmarks.svg in --report-dir (docs/).
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
/** The measuring window of a steady scenario starts on a whole second after the warm-up (at least 3 s). */
const windowStart = () => Math.ceil((Date.now() + Math.max(3, OPT.warmup) * 1000) / 1000) * 1000;

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
const flag = (name, def) => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
};
const ALL = ['w1', 'w2', 'w3', 'w4', 'w5'];
const scenarios = argv.filter((a) => !a.startsWith('--')).map((s) => s.toLowerCase());
const chosen = scenarios.length ? scenarios : ALL;
for (const s of chosen) if (!ALL.includes(s)) throw new Error(`unknown scenario ${s} (known: ${ALL.join(', ')})`);
const OPT = {
  seconds: Number(flag('seconds', 60)),
  // Steady scenarios (W1, W4, W5) measure after this many seconds of the load already running, for every system
  // alike: the first seconds of a fresh process (cold JIT, first connections) are start-up, not steady state.
  warmup: Number(flag('warmup', 10)),
  w1Sizes: flag('w1-sizes', '100,1000').split(',').map(Number),
  w3Sizes: flag('w3-sizes', '10000,100000').split(',').map(Number),
  systems: flag('systems', 'embedded,cluster,bullmq').split(','),
  capacity: Number(flag('capacity', 2048)),
  bullConcurrency: Number(flag('bull-concurrency', 100)),
  report: !argv.includes('--no-report'),
  out: flag('out', path.join(__dirname, 'results', 'latest.json')),
  reportDir: flag('report-dir', path.join(ROOT, 'docs')), // where benchmarks.md and benchmarks.svg go
  w2Jobs: Number(flag('w2-jobs', 5000)),
  w4Jobs: Number(flag('w4-jobs', 200)),
  w4Stamp: argv.includes('--w4-stamp'),
  w5Rate: Number(flag('w5-rate', 1000)),
  w5Combos: flag('w5-combos', '1d1e,2d1e,1d2e,2d2e').split(','),
  merge: argv.includes('--merge'), // keep the other scenarios of the results file, replace the ones run now
};
for (const c of OPT.w5Combos) if (!/^\d+d\d+e$/.test(c)) throw new Error(`--w5-combos: ${c} is not <N>d<M>e (e.g. 2d1e)`);

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
/** CPU of the process's children that it has waited for (cutime + cstime): spawned tasks, once reaped. */
function childTicks(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[13]) + Number(f[14]);
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
  const k0 = targets.map((t) => childTicks(t.pid));
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
        const k1 = childTicks(t.pid);
        const mem = memKb(t.pid);
        const died = t.proc && t.proc.dead ? `exited during the window (code ${t.proc.exitCode}, signal ${t.proc.signalCode})` : null;
        if (died) keepWork = true;
        return {
          name: t.name,
          shared: !!t.shared,
          died,
          cpuPct: c0[i] == null || c1 == null ? null : round1(((c1 - c0[i]) / CLK_TCK / secs) * 100),
          cpuSec: c0[i] == null || c1 == null ? null : round3((c1 - c0[i]) / CLK_TCK),
          childCpuSec: t.shared || k0[i] == null || k1 == null ? null : round3((k1 - k0[i]) / CLK_TCK),
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
const round3 = (x) => (x == null || Number.isNaN(x) ? null : Math.round(x * 1000) / 1000);
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
    // BENCH_KEEP=1 keeps the SQLite file beside the logs, for a look at the ledger afterwards.
    ctx.cleanup = async () => (process.env.BENCH_KEEP ? undefined : fs.rmSync(dir, { recursive: true, force: true }));
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
  // W5 starts a second dispatcher / executor under another name, with its own port and id in extraEnv
  ctx.startDispatcher = (extraArgs = [], extraEnv = {}, name = 'dispatcher') => {
    const p = start(`${name}-${tag}`, [...prof(name), ...extraArgs, path.join(SNAP, 'dist/apps/dispatcher/main.js')], {
      ...env,
      ...extraEnv,
    });
    ctx.procs.push(p);
    return p;
  };
  ctx.startExecutor = (extraEnv = {}, name = 'executor') => {
    const p = start(`${name}-${tag}`, [...prof(name), path.join(SNAP, 'dist/apps/executor/main.js')], { ...env, ...extraEnv });
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
  ctx.waitExecutor = (n = 1, base = ctx.base) =>
    until(async () => (await (await fetch(`${base}/api/executors`)).json()).length >= n, 60_000, `${n} executor(s) at ${base}`);
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

/** A job row: an HTTP GET of `url`, or with `command` a shell job. */
function jobRow(i, prefix, cron, url, now, command = null) {
  return {
    name: `${prefix}-${i}`,
    description: '',
    cron,
    timezone: 'UTC',
    type: command == null ? 'http' : 'shell',
    command,
    env: '{}',
    http: command == null ? JSON.stringify({ method: 'GET', url, headers: {}, body: '', expectStatus: [200] }) : null,
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
    const T0 = windowStart();
    await sleepUntil(T0);
    await dumpStub(stub);
    const smp = sampler([d, ex, stub], SVCS_FOR(mode));
    const T1 = T0 + OPT.seconds * 1000;
    await sleepUntil(T1);
    const res = smp.stop();
    await sleep(5000); // late runs of the window still count, with their lag
    const hits = await dumpStub(stub);
    const { ledger, statuses } = await steadyLedger(ctx, jobs, T0, T1);
    const stubStats = tickStats(
      hits.filter((h) => h.key.startsWith('g')),
      jobs,
      T0,
      T1,
    );
    return { system: mode, jobs, seconds: OPT.seconds, window: [T0, T1], ledger, stub: stubStats, statuses, resources: res };
  } finally {
    await ctx.dispose();
    await stop(stub);
  }
}

/**
 * The ledger's view of a steady window: rows of scheduled ticks in [T0, T1), their lag (started − scheduled),
 * missed and duplicated ticks, duplicated rows, and where the lag goes. `extraCols` are selected too (dbRows).
 */
async function steadyLedger(ctx, jobs, T0, T1, extraCols = []) {
  const t = ctx.q('trigger');
  const cols = ['job_id', 'scheduled_at', 'created_at', 'started_at', 'status', ...extraCols].map(ctx.q).join(', ');
  const dbRows = await ctx.all(`SELECT ${cols} FROM runs WHERE ${t} = 'schedule' AND scheduled_at >= ? AND scheduled_at < ?`, [T0, T1]);
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
  // run rows beyond one per tick would be duplicates in the ledger
  const keys = new Set(dbRows.map((r) => `${r.job_id}@${r.scheduled_at}`));
  ledger.duplicatedRows = dbRows.length - keys.size;
  // where the lag goes: tick → row inserted by the dispatcher (claim), row inserted → executor start (offer, gRPC, CAS)
  const inWin = dbRows.filter((r) => r.started_at != null);
  ledger.claimLag = lagStats(inWin.map((r) => Number(r.created_at) - Number(r.scheduled_at)));
  ledger.offerToStart = lagStats(inWin.map((r) => Number(r.started_at) - Number(r.created_at)));
  return { ledger, statuses, dbRows };
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
    const T0 = windowStart();
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

// ---------------------------------------------------------------- W4 shell
/** Executor (or worker) CPU per run started in the window: the spawn cost. */
function spawnCost(res, proc, runs) {
  const p = res.procs.find((x) => x.name === proc.benchName);
  if (!p || p.cpuSec == null || !runs) return { runs, cpuMsPerRun: null, childCpuMsPerRun: null };
  return {
    runs,
    cpuMsPerRun: round3((p.cpuSec * 1000) / runs),
    childCpuMsPerRun: p.childCpuSec == null ? null : round3((p.childCpuSec * 1000) / runs),
  };
}

async function w4Gocron(mode, jobs, stamp = false) {
  // the headline runs `true`; the stamp variant prints the command's own start (ms), kept in runs.output
  const command = stamp ? 'date +%s%3N' : 'true';
  const tag = `w4-${mode}-${jobs}${stamp ? '-stamp' : ''}`;
  const ctx = await gocronSetup(mode, tag);
  try {
    await ctx.migrate();
    const now = Date.now();
    const rows = [];
    for (let i = 0; i < jobs; i++) rows.push(jobRow(i, 'w4', '* * * * * *', null, now, command));
    await ctx.insertJobs(rows);
    const ex = ctx.startExecutor();
    const d = ctx.startDispatcher();
    await waitOut(d, /scheduling (\d+) enabled job/, 120_000);
    await until(ctx.health, 60_000, 'dispatcher health');
    await ctx.waitExecutor();
    const T0 = windowStart();
    await sleepUntil(T0);
    const smp = sampler([d, ex], SVCS_FOR(mode));
    const T1 = T0 + OPT.seconds * 1000;
    await sleepUntil(T1);
    const res = smp.stop();
    await sleep(5000); // late runs of the window still count, with their lag
    const { ledger, statuses, dbRows } = await steadyLedger(ctx, jobs, T0, T1, ['duration_ms', ...(stamp ? ['output'] : [])]);
    const [{ n }] = await ctx.all(`SELECT COUNT(*) AS n FROM runs WHERE started_at >= ? AND started_at < ?`, [T0, T1]);
    const done = dbRows.filter((r) => r.duration_ms != null);
    const r = {
      system: mode,
      jobs,
      command,
      seconds: OPT.seconds,
      window: [T0, T1],
      ledger,
      statuses,
      duration: lagStats(done.map((x) => Number(x.duration_ms))),
      spawn: spawnCost(res, ex, Number(n)),
      dispatcherCpuMsPerRun: spawnCost(res, d, Number(n)).cpuMsPerRun,
      resources: res,
    };
    if (stamp) {
      const stamped = dbRows
        .map((x) => ({ x, t: Number(String(x.output || '').trim()) }))
        .filter(({ x, t }) => x.started_at != null && t > 1e12);
      r.commandLag = lagStats(stamped.map(({ x, t }) => t - Number(x.scheduled_at))); // tick → command runs
      r.startedToCommand = lagStats(stamped.map(({ x, t }) => t - Number(x.started_at))); // ledger start → command runs
    }
    return r;
  } finally {
    await ctx.dispose();
  }
}

async function w4Bull(jobs) {
  const tag = `w4-bullmq-${jobs}`;
  const prefix = `bench-bull-${RUN_ID}-w4-${jobs}`;
  const records = path.join(WORK, `${tag}.records`);
  const { Queue } = require('bullmq');
  const IORedis = require('ioredis');
  const connection = new IORedis(SVC.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('bench', { connection, prefix });
  let worker;
  try {
    worker = start(`bullmq-worker-w4-${jobs}`, [path.join(__dirname, 'bullmq-worker.js')], {
      ...baseEnv(),
      REDIS_URL: SVC.redisUrl,
      BULL_PREFIX: prefix,
      BULL_QUEUE: 'bench',
      BULL_CONCURRENCY: String(OPT.bullConcurrency),
      BULL_MODE: 'spawn',
      BULL_RECORD_FILE: records,
    });
    await waitOut(worker, /worker ready/, 30_000);
    const t0 = Date.now();
    await inBatches(jobs, 100, (i) =>
      queue.upsertJobScheduler(`w4-${i}`, { pattern: '* * * * * *' }, { name: `w4-${i}`, data: {} }),
    );
    const createMs = Date.now() - t0;
    const T0 = windowStart();
    await sleepUntil(T0);
    const smp = sampler([worker], SVCS_FOR('bullmq'));
    const T1 = T0 + OPT.seconds * 1000;
    await sleepUntil(T1);
    const res = smp.stop();
    await sleep(5000);
    await stop(worker); // flushes its records
    // [spawnMs, name, scheduledMs, exitMs, code]
    const recs = fs.existsSync(records)
      ? fs
          .readFileSync(records, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
    const inWin = recs.filter((x) => x[2] >= T0 && x[2] < T1);
    const codes = {};
    for (const x of inWin) codes[x[4]] = (codes[x[4]] || 0) + 1;
    return {
      system: 'bullmq',
      jobs,
      command: 'true',
      seconds: OPT.seconds,
      window: [T0, T1],
      worker: tickStats(
        recs.map((x) => ({ key: x[1], sched: x[2], start: x[0] })),
        jobs,
        T0,
        T1,
      ),
      exitCodes: codes,
      duration: lagStats(inWin.map((x) => x[3] - x[0])),
      spawn: spawnCost(
        res,
        worker,
        recs.filter((x) => x[0] >= T0 && x[0] < T1).length,
      ),
      createMs,
      resources: res,
    };
  } finally {
    await stop(worker);
    await queue.close().catch(() => {});
    connection.disconnect();
    await delRedisPrefix(prefix).catch(() => {});
  }
}

// ---------------------------------------------------------------- W5 cluster
const DB_COUNTERS = [
  'Questions',
  'Com_select',
  'Com_insert',
  'Com_update',
  'Com_delete',
  'Com_commit',
  'Innodb_rows_inserted', // MySQL; MariaDB 10.11 no longer has the Innodb_rows_* counters:
  'Innodb_rows_updated',
  'Innodb_rows_deleted',
  'Innodb_rows_read',
  'Handler_write', // rows written, updated, deleted (MariaDB and MySQL)
  'Handler_update',
  'Handler_delete',
  'Rows_read', // MariaDB
];

/** Redis INFO commandstats / stats and MariaDB SHOW GLOBAL STATUS, over connections kept open for the scenario. */
async function serviceCounters() {
  const IORedis = require('ioredis');
  const mysql = require('mysql2/promise');
  const redis = new IORedis(SVC.redisUrl);
  const db = await mysql.createConnection({ host: SVC.mysqlHost, port: SVC.mysqlPort, user: SVC.mysqlUser, password: SVC.mysqlPassword });
  return {
    async read() {
      const [cs, st, [rows]] = await Promise.all([redis.info('commandstats'), redis.info('stats'), db.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (?)`, [DB_COUNTERS])]);
      const cmds = {};
      for (const m of cs.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) cmds[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
      const dbc = {};
      for (const r of rows) dbc[r.Variable_name] = Number(r.Value);
      return { t: Date.now(), redis: { total: Number(st.match(/total_commands_processed:(\d+)/)[1]), cmds }, db: dbc };
    },
    async close() {
      redis.disconnect();
      await db.end().catch(() => {});
    },
  };
}

/** Deltas between two serviceCounters() readings: totals, per second and (with runs) per run. */
function counterDelta(a, b, runs = null) {
  const secs = (b.t - a.t) / 1000;
  const per = (x) => ({ total: x, perSec: round1(x / secs), perRun: runs ? round3(x / runs) : null });
  const calls = {};
  let callsTotal = 0;
  let usec = 0;
  for (const [k, v] of Object.entries(b.redis.cmds)) {
    const prev = a.redis.cmds[k] || { calls: 0, usec: 0 };
    const d = v.calls - prev.calls;
    if (d > 0) calls[k] = d;
    callsTotal += Math.max(0, d);
    usec += Math.max(0, v.usec - prev.usec);
  }
  const db = {};
  for (const k of DB_COUNTERS) if (k in b.db) db[k] = per(b.db[k] - (a.db[k] || 0));
  return {
    seconds: round1(secs),
    runs,
    redis: {
      commandsProcessed: per(b.redis.total - a.redis.total),
      commandstatsCalls: per(callsTotal),
      commandUsec: usec,
      top: Object.entries(calls)
        .sort((x, y) => y[1] - x[1])
        .slice(0, 8)
        .map(([cmd, n]) => ({ cmd, calls: n, perSec: round1(n / secs) })),
    },
    db,
  };
}

async function w5Cluster(nD, nE, jobs) {
  const combo = `${nD}d${nE}e`;
  const tag = `w5-${combo}-${jobs}`;
  const stub = await startStub(tag);
  const ctx = await gocronSetup('cluster', tag);
  let counters;
  try {
    counters = await serviceCounters();
    await ctx.migrate();
    const now = Date.now();
    const rows = [];
    for (let i = 0; i < jobs; i++) rows.push(jobRow(i, 'w5', '* * * * * *', `${stub.url}/`, now));
    await ctx.insertJobs(rows);
    // what the shared Redis and MariaDB do without us (other work on the machine), 5 s before anything starts
    const b0 = await counters.read();
    await sleep(5000);
    const background = counterDelta(b0, await counters.read());
    const execs = [];
    for (let i = 1; i <= nE; i++) {
      const extra = i === 1 ? {} : { GOCRON_EXECUTOR_PORT: String(await freePort()), GOCRON_EXECUTOR_ID: `bench-e-${tag}-${i}` };
      execs.push(ctx.startExecutor(extra, i === 1 ? 'executor' : `executor${i}`));
    }
    const disps = [];
    const bases = [];
    for (let i = 1; i <= nD; i++) {
      const port = i === 1 ? null : await freePort();
      const extra = i === 1 ? {} : { GOCRON_DISPATCHER_PORT: String(port), GOCRON_DISPATCHER_ID: `bench-d-${tag}-${i}` };
      disps.push(ctx.startDispatcher([], extra, i === 1 ? 'dispatcher' : `dispatcher${i}`));
      bases.push(i === 1 ? ctx.base : `http://127.0.0.1:${port}`);
    }
    await Promise.all(disps.map((d) => waitOut(d, /scheduling (\d+) enabled job/, 120_000)));
    for (const base of bases) {
      await until(async () => (await fetch(`${base}/api/health`)).status === 200, 60_000, `dispatcher health at ${base}`);
      await ctx.waitExecutor(nE, base);
    }
    const T0 = windowStart();
    await sleepUntil(T0);
    await dumpStub(stub);
    const c0 = await counters.read();
    const smp = sampler([...disps, ...execs, stub], SVCS_FOR('cluster'));
    const T1 = T0 + OPT.seconds * 1000;
    await sleepUntil(T1);
    const res = smp.stop();
    const c1 = await counters.read();
    await sleep(5000);
    const hits = await dumpStub(stub);
    const { ledger, statuses, dbRows } = await steadyLedger(ctx, jobs, T0, T1, ['dispatcher_id', 'executor_id']);
    const stubStats = tickStats(
      hits.filter((h) => h.key.startsWith('g')),
      jobs,
      T0,
      T1,
    );
    // rows of any trigger for one (job, tick): a second dispatcher must never add one
    const [{ n: allRows }] = await ctx.all(`SELECT COUNT(*) AS n FROM runs WHERE scheduled_at >= ? AND scheduled_at < ?`, [T0, T1]);
    const [{ n: distinctTicks }] = await ctx.all(
      `SELECT COUNT(*) AS n FROM (SELECT DISTINCT job_id, scheduled_at FROM runs WHERE scheduled_at >= ? AND scheduled_at < ?) x`,
      [T0, T1],
    );
    ledger.duplicatedRowsAnyTrigger = Number(allRows) - Number(distinctTicks);
    const [{ n: created }] = await ctx.all(`SELECT COUNT(*) AS n FROM runs WHERE created_at >= ? AND created_at < ?`, [T0, T1]);
    const count = (col) => {
      const m = {};
      for (const r of dbRows) m[r[col] || '(none)'] = (m[r[col] || '(none)'] || 0) + 1;
      return m;
    };
    return {
      system: 'cluster',
      combo,
      dispatchers: nD,
      executors: nE,
      jobs,
      seconds: OPT.seconds,
      window: [T0, T1],
      ledger,
      stub: stubStats,
      statuses,
      byDispatcher: count('dispatcher_id'),
      byExecutor: count('executor_id'),
      load: counterDelta(c0, c1, Number(created)),
      background,
      resources: res,
    };
  } finally {
    if (counters) await counters.close();
    await ctx.dispose();
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
    w4: [],
    w5: [],
    errors: [],
  };
  const log = (s) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
  const attempt = async (label, fn, into) => {
    log(`${label} …`);
    try {
      const r = await fn();
      into.push(r);
      const s = r.ledger || r.worker || r.stub;
      log(`${label}: ${JSON.stringify(s ? [s.lag, s.started] : r.coldStart || r.createMs)}`);
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
  if (chosen.includes('w4')) {
    for (const sys of OPT.systems) {
      if (sys === 'bullmq') await attempt(`W4 bullmq ${OPT.w4Jobs}`, () => w4Bull(OPT.w4Jobs), results.w4);
      else {
        await attempt(`W4 ${sys} ${OPT.w4Jobs}`, () => w4Gocron(sys, OPT.w4Jobs), results.w4);
        if (OPT.w4Stamp) await attempt(`W4 ${sys} ${OPT.w4Jobs} (date stamp)`, () => w4Gocron(sys, OPT.w4Jobs, true), results.w4);
      }
    }
  }
  if (chosen.includes('w5')) {
    if (!OPT.systems.includes('cluster')) log('W5 skipped: it measures the cluster setup, which --systems leaves out');
    else
      for (const combo of OPT.w5Combos) {
        const m = combo.match(/^(\d+)d(\d+)e$/);
        await attempt(`W5 cluster ${combo} ${OPT.w5Rate}`, () => w5Cluster(Number(m[1]), Number(m[2]), OPT.w5Rate), results.w5);
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
    writeReport(results, OPT.reportDir);
    log(`wrote ${path.join(OPT.reportDir, 'benchmarks.md')} and benchmarks.svg`);
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
