#!/usr/bin/env node
// BullMQ worker for the benchmarks: one process, concurrency $BULL_CONCURRENCY, each job does an HTTP GET to the stub
// with the scheduled instant of the job (job.opts.prevMillis, which BullMQ's job scheduler sets to the tick's
// nextMillis; the job id repeat:<scheduler>:<nextMillis> carries the same value).
'use strict';
const { Worker } = require('bullmq');
const IORedis = require('ioredis');

const stub = process.env.STUB_URL;
const connection = new IORedis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const worker = new Worker(
  process.env.BULL_QUEUE,
  async (job) => {
    let s = job.opts && job.opts.prevMillis;
    if (!s) s = Number(String(job.id).split(':').pop());
    const res = await fetch(`${stub}/?j=${encodeURIComponent(job.name)}&s=${s}`);
    await res.text();
    return res.status;
  },
  {
    connection,
    prefix: process.env.BULL_PREFIX,
    concurrency: Number(process.env.BULL_CONCURRENCY || 100),
    removeOnComplete: { count: 1000 },
    removeOnFail: { count: 1000 },
  },
);
worker.on('ready', () => process.stdout.write('worker ready\n'));
worker.on('error', (e) => process.stderr.write(`worker error ${e.message}\n`));
const stop = async () => {
  await worker.close(true).catch(() => {});
  await connection.quit().catch(() => {});
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
