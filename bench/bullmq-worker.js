#!/usr/bin/env node
// BullMQ worker for the benchmarks: one process, concurrency $BULL_CONCURRENCY.
//
// BULL_MODE=http (default): each job does an HTTP GET to the stub ($STUB_URL) with the scheduled instant of the job
// (job.opts.prevMillis, which BullMQ's job scheduler sets to the tick's nextMillis; the job id
// repeat:<scheduler>:<nextMillis> carries the same value).
// BULL_MODE=spawn (W4): each job spawns `true` (child_process.spawn, no shell) and waits for its exit; the worker's
// time at spawn, the job name, the scheduled instant, the exit time and code are appended as JSON lines
// [spawnMs, name, scheduledMs, exitMs, code] to $BULL_RECORD_FILE (buffered, written every 250 ms).
'use strict';
const { spawn } = require('node:child_process');
const { Worker } = require('bullmq');
const IORedis = require('ioredis');
const { recordFile } = require('./record-file');

const stub = process.env.STUB_URL;
const mode = process.env.BULL_MODE || 'http';
const records = recordFile(process.env.BULL_RECORD_FILE);

const scheduledOf = (job) => (job.opts && job.opts.prevMillis) || Number(String(job.id).split(':').pop());

const processors = {
  async http(job) {
    const s = scheduledOf(job);
    const res = await fetch(`${stub}/?j=${encodeURIComponent(job.name)}&s=${s}`);
    await res.text();
    return res.status;
  },
  spawn(job) {
    const s = scheduledOf(job);
    return new Promise((resolve, reject) => {
      let settled = false;
      const record = (code) => {
        if (settled) return false;
        settled = true;
        records.push([t, job.name, s, Date.now(), code]);
        return true;
      };
      const t = Date.now();
      const child = spawn('true', [], { stdio: 'ignore' });
      child.once('error', (e) => record(String(e.code || e.message)) && reject(e));
      child.once('exit', (code, sig) => record(code == null ? sig : code) && resolve(code));
    });
  },
};
if (!processors[mode]) throw new Error(`unknown BULL_MODE ${mode}`);

const connection = new IORedis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const worker = new Worker(process.env.BULL_QUEUE, processors[mode], {
  connection,
  prefix: process.env.BULL_PREFIX,
  concurrency: Number(process.env.BULL_CONCURRENCY || 100),
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 1000 },
});
worker.on('ready', () => process.stdout.write('worker ready\n'));
worker.on('error', (e) => process.stderr.write(`worker error ${e.message}\n`));
const stop = async () => {
  await worker.close(true).catch(() => {});
  await connection.quit().catch(() => {});
  records.flush();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
