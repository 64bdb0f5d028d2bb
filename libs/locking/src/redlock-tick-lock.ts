import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import Redlock from 'redlock';
import { TickLock } from './tick-lock';

/**
 * The tick guard among dispatchers on Redis, through redlock 4.2.0 (pinned: the 5.x line is still beta, with open
 * quorum failures, node-redlock#168, and an unreleased extension fix, #276; 4.2.0 is the last stable release). One Redis, no lock retries: the loser of a tick
 * neither runs it nor waits for it (redlock's default 10 × 200 ms retries would stall every loser for 2 s a tick).
 *
 * Redis down or paused must not stop scheduling: commands fail fast (no offline queue, a short command timeout),
 * and the lock then answers "go ahead" — the ledger's unique key is the fence that keeps the tick single. That
 * degradation is logged once and shown by `health()`.
 */
/** Longer than the command timeout: only a lock() that never settles runs into it. */
const ACQUIRE_DEADLINE_MS = 1500;

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`lock() did not settle within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

/**
 * Redlock's acquire and release on one Redis node (SET NX PX with a random value; delete only while the value is
 * ours), for many keys in one script call. redlock 4.2.0's lock() on several resources is all-or-nothing, so a batch
 * where another dispatcher holds one tick would lose them all; and it sends each key's script text with EVAL, two
 * round trips a tick (7 % of a cluster dispatcher's CPU at 300 ticks/s). ioredis's defineCommand runs these by
 * EVALSHA. With one Redis node this is the same algorithm Redlock runs with a quorum of one.
 */
const ACQUIRE_MANY = `local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then out[i] = 1 else out[i] = 0 end
end
return out`;
const RELEASE_MANY = `local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key); n = n + 1 end
end
return n`;
/** Keys per script call: bounded so one call never blocks Redis for long. */
const SCRIPT_CHUNK = 1000;

type BatchRedis = Redis & {
  gocronAcquireMany(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  gocronReleaseMany(numKeys: number, ...args: string[]): Promise<number>;
};

export class RedlockTickLock implements TickLock {
  private readonly logger = new Logger(RedlockTickLock.name);
  private readonly redis: Redis;
  private readonly redlock: Redlock;
  private readonly held = new Map<string, Redlock.Lock>();
  /** Keys taken by tryAcquireMany, with the value that proves they are ours. */
  private readonly heldMany = new Map<string, string>();
  private lastError: { at: number; message: string } | null = null;
  private degraded = false;

  constructor(url: string) {
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      commandTimeout: 500,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      lazyConnect: false,
    });
    this.redis.on('error', (e: Error) => this.noteError(e));
    this.redis.defineCommand('gocronAcquireMany', { lua: ACQUIRE_MANY });
    this.redis.defineCommand('gocronReleaseMany', { lua: RELEASE_MANY });
    this.redlock = new Redlock([this.redis], { retryCount: 0, driftFactor: 0.01 });
    this.redlock.on('clientError', (e: Error) => this.noteError(e));
  }

  async tryAcquire(key: string, ttlMs: number): Promise<boolean> {
    if (this.redis.status !== 'ready') return this.proceedDegraded(`redis is ${this.redis.status}`);
    const before = this.lastError?.at ?? 0;
    try {
      // node-redlock#83: a 4.x lock() that never settles was reported; a tick must not wait on one forever.
      this.held.set(key, await withDeadline(this.redlock.lock(key, ttlMs), ACQUIRE_DEADLINE_MS));
      if (this.degraded) {
        this.degraded = false;
        this.logger.log('redis is back: ticks are guarded by the lock again');
      }
      return true;
    } catch (e) {
      // A Redis error during this attempt: Redis is the problem, not another holder.
      if ((this.lastError?.at ?? 0) > before) return this.proceedDegraded(this.lastError!.message);
      if (e instanceof Redlock.LockError) return false;
      return this.proceedDegraded((e as Error).message);
    }
  }

  async release(key: string): Promise<void> {
    const lock = this.held.get(key);
    if (!lock) return;
    this.held.delete(key);
    // Expiry releases it anyway; a failed unlock only delays nothing, since losers never wait.
    await lock.unlock().catch(() => undefined);
  }

  async tryAcquireMany(keys: string[], ttlMs: number): Promise<boolean[]> {
    if (keys.length === 0) return [];
    if (this.redis.status !== 'ready') return keys.map(() => this.proceedDegraded(`redis is ${this.redis.status}`));
    const value = randomBytes(16).toString('hex');
    const redis = this.redis as BatchRedis;
    try {
      const out: boolean[] = [];
      for (let i = 0; i < keys.length; i += SCRIPT_CHUNK) {
        const chunk = keys.slice(i, i + SCRIPT_CHUNK);
        const got = await withDeadline(
          redis.gocronAcquireMany(chunk.length, ...chunk, value, Math.trunc(ttlMs)),
          ACQUIRE_DEADLINE_MS,
        );
        chunk.forEach((key, k) => {
          if (got[k] === 1) this.heldMany.set(key, value);
          out.push(got[k] === 1);
        });
      }
      if (this.degraded) {
        this.degraded = false;
        this.logger.log('redis is back: ticks are guarded by the lock again');
      }
      return out;
    } catch (e) {
      // Redis failed (not another holder): the ledger's key alone guards these ticks. Keys taken by an earlier chunk
      // stay held until released or expired, which is what a successful acquire would have done too.
      const reason = (e as Error).message;
      return keys.map(() => this.proceedDegraded(reason));
    }
  }

  async releaseMany(keys: string[]): Promise<void> {
    const byValue = new Map<string, string[]>();
    for (const key of keys) {
      const value = this.heldMany.get(key);
      if (value === undefined) continue;
      this.heldMany.delete(key);
      const list = byValue.get(value);
      if (list) list.push(key);
      else byValue.set(value, [key]);
    }
    const redis = this.redis as BatchRedis;
    for (const [value, owned] of byValue) {
      for (let i = 0; i < owned.length; i += SCRIPT_CHUNK) {
        const chunk = owned.slice(i, i + SCRIPT_CHUNK);
        // Expiry releases them anyway; a failed release only delays nothing, since losers never wait.
        await redis.gocronReleaseMany(chunk.length, ...chunk, value).catch(() => undefined);
      }
    }
  }

  async health(): Promise<{ status: 'ok' | 'degraded'; detail: string }> {
    if (this.redis.status !== 'ready')
      return { status: 'degraded', detail: `redis ${this.redis.status}; ledger fence only` };
    try {
      await this.redis.ping();
      return { status: 'ok', detail: 'redlock on redis' };
    } catch (e) {
      return { status: 'degraded', detail: `redis: ${(e as Error).message}; ledger fence only` };
    }
  }

  /** Nest calls this on shutdown (the lock is a provider). */
  onApplicationShutdown(): void {
    this.redis.disconnect();
  }

  private proceedDegraded(reason: string): boolean {
    if (!this.degraded) {
      this.degraded = true;
      this.logger.warn(`tick lock unavailable (${reason}): scheduling continues on the ledger's unique key alone`);
    }
    return true;
  }

  private noteError(e: Error): void {
    this.lastError = { at: Date.now(), message: e.message };
  }
}
