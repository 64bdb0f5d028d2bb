#!/usr/bin/env node
// The floor of the benchmarks (issue 17): what a bare loop in a small Node process achieves at the same load, so a
// system's figures read as "this much above the floor". No scheduler, no ledger: at each tick it starts the tick's
// $FLOOR_JOBS tasks at once, in one synchronous loop.
//
// FLOOR_MODE=http (W1, W2): GET $STUB_URL/ through one keep-alive http.Agent with gocron's executor settings (256
// sockets per host, LIFO: apps/executor/src/tasks/runners/http-runner.ts), each request carrying X-Gocron-Job-Id
// f<i> and X-Gocron-Scheduled-At as the executor sends them, so the stub dates it as it dates gocron-ts's.
// FLOOR_MODE=spawn (W4): `/bin/sh -c $FLOOR_COMMAND` (child_process.spawn, stdio pipes) waited for to its exit;
// [spawnMs, f<i>, scheduledMs, exitMs, code, stdout] appended as JSON lines to $FLOOR_RECORD_FILE (buffered, written
// every 250 ms and on SIGTERM).
// Ticks: every whole second, or once at $FLOOR_AT (ms; W2's burst).
'use strict';
const http = require('node:http');
const { spawn } = require('node:child_process');
const { recordFile } = require('./record-file');

const mode = process.env.FLOOR_MODE || 'http';
const jobs = Number(process.env.FLOOR_JOBS);
const burstAt = process.env.FLOOR_AT ? Number(process.env.FLOOR_AT) : null;
const records = recordFile(process.env.FLOOR_RECORD_FILE);
let errors = 0;

const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, scheduling: 'lifo' });
const stub = process.env.STUB_URL ? new URL(process.env.STUB_URL) : null;

const tasks = {
  http(i, sched) {
    const req = http.request({
      agent,
      host: stub.hostname,
      port: stub.port,
      path: '/',
      method: 'GET',
      headers: { 'X-Gocron-Job-Id': `f${i}`, 'X-Gocron-Scheduled-At': new Date(sched).toISOString() },
    });
    req.once('response', (res) => res.resume());
    req.once('error', () => errors++);
    req.end();
  },
  spawn(i, sched) {
    const t = Date.now();
    const child = spawn('/bin/sh', ['-c', process.env.FLOOR_COMMAND], { stdio: 'pipe' });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.resume();
    child.once('error', (e) => records.push([t, `f${i}`, sched, Date.now(), String(e.code), '']));
    child.once('close', (code, sig) => records.push([t, `f${i}`, sched, Date.now(), code == null ? sig : code, out]));
  },
};
const task = tasks[mode];
if (!task) throw new Error(`unknown FLOOR_MODE ${mode}`);
if (!(jobs > 0)) throw new Error('FLOOR_JOBS: a positive number of tasks per tick');
if (mode === 'http' && !stub) throw new Error('FLOOR_MODE=http needs STUB_URL');

const fire = (sched) => {
  for (let i = 1; i <= jobs; i++) task(i, sched);
};
// every tick at its instant, a late one as soon as the loop gets to it (no tick skipped)
const every = (sched) =>
  setTimeout(() => {
    fire(sched);
    every(sched + 1000);
  }, sched - Date.now());
if (burstAt == null) every(Math.floor(Date.now() / 1000) * 1000 + 1000);
else setTimeout(() => fire(burstAt), burstAt - Date.now());
process.stdout.write(`floor ready (${mode}, ${jobs} per tick)\n`);

process.on('SIGTERM', () => {
  records.flush();
  if (errors) process.stderr.write(`floor: ${errors} request errors\n`);
  process.exit(0);
});
