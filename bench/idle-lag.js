#!/usr/bin/env node
// Idle-machine figures for the embedded default: dispatcher start-up time (spawn → /api/health 200, fresh SQLite
// file) and tick-to-start lag (run.startedAt − run.scheduledAt, from the ledger) for jobs every second.
// Usage: node bench/idle-lag.js [seconds=30] [jobs=1]   (needs `npm run build` first)
'use strict';
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { mkdtempSync } = require('node:fs');
const { tmpdir, cpus } = require('node:os');
const { join } = require('node:path');

const seconds = Number(process.argv[2] ?? 30);
const jobCount = Number(process.argv[3] ?? 1);
const root = join(__dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'gocron-bench-'));
// Auth on, as it ships: the dispatcher takes this run's token as its admin token, and every request sends it.
const token = process.env.BENCH_API_TOKEN || `gct_${randomBytes(32).toString('base64url')}`;
const env = {
  ...process.env,
  GOCRON_AUTH_ADMIN_TOKEN: token,
  GOCRON_DATABASE_TYPE: 'sqlite',
  GOCRON_DATABASE_PATH: join(dir, 'gocron.sqlite'),
  GOCRON_DISPATCHER_PORT: '18080',
  GOCRON_EXECUTOR_PORT: '15051',
  GOCRON_EXECUTOR_STATIC_TARGETS: '127.0.0.1:15051',
  GOCRON_EXECUTOR_CAPACITY: '256',
  // [executor] token as it ships: the dispatcher sends it on every gRPC call, the executor checks it.
  GOCRON_EXECUTOR_TOKEN: randomBytes(24).toString('base64url'),
};
const base = 'http://127.0.0.1:18080';
/** fetch of an API path with the bench's credentials. */
const api = (path, init = {}) =>
  fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
const procs = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

(async () => {
  const t0 = Date.now();
  procs.push(
    spawn(process.execPath, [join(root, 'dist/apps/dispatcher/main.js')], { cwd: root, env, stdio: 'ignore' }),
  );
  await until(async () => (await api('/api/health')).status === 200, 60_000);
  const dispatcherStart = Date.now() - t0;
  const t1 = Date.now();
  procs.push(spawn(process.execPath, [join(root, 'dist/apps/executor/main.js')], { cwd: root, env, stdio: 'ignore' }));
  await until(async () => (await (await api('/api/executors')).json()).length === 1, 60_000);
  const executorStart = Date.now() - t1;
  const ids = [];
  for (let i = 0; i < jobCount; i++) {
    const res = await api('/api/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `lag-${i}`,
        cron: '* * * * * *',
        type: 'shell',
        command: 'true',
        concurrency: 'allow',
      }),
    });
    if (res.status !== 201) throw new Error(`POST /api/jobs: HTTP ${res.status} ${await res.text()}`);
    ids.push((await res.json()).id);
  }
  await sleep(seconds * 1000);
  const lags = [];
  let expected = 0;
  for (const id of ids) {
    const { items } = await (await api(`/api/jobs/${id}/runs?limit=500`)).json();
    for (const r of items) if (r.startedAt) lags.push(Date.parse(r.startedAt) - Date.parse(r.scheduledAt));
    expected += items.length;
  }
  lags.sort((a, b) => a - b);
  const out = {
    machine: `${cpus().length} × ${cpus()[0].model}, node ${process.version}`,
    dispatcherStartMs: dispatcherStart,
    executorStartMs: executorStart,
    jobs: jobCount,
    seconds,
    runs: lags.length,
    records: expected,
    lagMs: { p50: pct(lags, 50), p99: pct(lags, 99), max: lags[lags.length - 1] },
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
})()
  .catch((e) => {
    process.stderr.write(`${e.stack}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const p of procs) p.kill('SIGKILL');
  });
