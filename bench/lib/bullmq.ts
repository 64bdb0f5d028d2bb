// The BullMQ side of a scenario: a queue under a key prefix of its own on the shared Redis, job schedulers upserted
// from the bench, and one measured worker process (bench/bullmq-worker.js).
import { join } from 'node:path';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { testServices } from '../../test/support/services';
import type { Bench } from './bench';
import { BenchProcess, measuredEnv } from './processes';
import { deleteRedisPrefix } from './redis';

const QUEUE = 'bench';

export class BullSetup {
  private readonly connection: Redis;
  private readonly queue: Queue;
  private worker: BenchProcess | null = null;

  constructor(
    private readonly bench: Bench,
    readonly prefix: string,
  ) {
    this.connection = new Redis(testServices().redisUrl, { maxRetriesPerRequest: null });
    this.queue = new Queue(QUEUE, { connection: this.connection, prefix });
  }

  /** Starts the worker (`env`: its BULL_MODE, STUB_URL, …) and waits for its "worker ready" (`readyAt`). */
  async startWorker(
    name: string,
    env: Record<string, string>,
    readyTimeoutMs: number,
  ): Promise<{ worker: BenchProcess; readyAt: number }> {
    const worker = this.bench.procs.start(name, [join(__dirname, '..', 'bullmq-worker.js')], {
      ...measuredEnv(),
      REDIS_URL: testServices().redisUrl,
      BULL_PREFIX: this.prefix,
      BULL_QUEUE: QUEUE,
      BULL_CONCURRENCY: String(this.bench.opts.bullConcurrency),
      ...env,
    });
    this.worker = worker;
    const { at } = await worker.waitForOutput(/worker ready/, readyTimeoutMs);
    return { worker, readyAt: at };
  }

  /** upsertJobScheduler for `<prefix>-0` … `<prefix>-<n-1>`, `width` at a time. */
  async schedule(n: number, width: number, prefix: string, pattern: string): Promise<void> {
    for (let i = 0; i < n; i += width) {
      const ps: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(n, i + width); j++) ps.push(this.scheduleOne(`${prefix}-${j}`, pattern));
      await Promise.all(ps);
    }
  }

  scheduleOne(id: string, pattern: string): Promise<unknown> {
    return this.queue.upsertJobScheduler(id, { pattern }, { name: id, data: {} });
  }

  async dispose(): Promise<void> {
    if (this.worker) await this.worker.stop();
    await this.queue.close().catch(() => {});
    this.connection.disconnect();
    await deleteRedisPrefix(this.prefix).catch(() => {});
  }
}

/** Runs `fn` on a fresh queue under `prefix`, its worker stopped and its keys deleted afterwards. */
export async function withBull<T>(bench: Bench, prefix: string, fn: (b: BullSetup) => Promise<T>): Promise<T> {
  const b = new BullSetup(bench, prefix);
  try {
    return await fn(b);
  } finally {
    await b.dispose();
  }
}
