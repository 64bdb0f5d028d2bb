import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { redisOptions, withDeadline } from '@app/common';
import { TickLock } from './tick-lock';

/** Longer than the command timeout: only a call that never settles runs into it. */
const ACQUIRE_DEADLINE_MS = 1500;
const LOCK_UNSETTLED = 'lock() did not settle';

/**
 * Redlock's acquire and release on one Redis node (SET NX PX with a random value; delete only while the value is
 * ours, https://redis.io/docs/latest/develop/use/patterns/distributed-locks/), for many keys in one script call: with
 * one Redis node this is the algorithm Redlock runs with a quorum of one. Not the redlock package: its lock() on
 * several resources is all-or-nothing (a batch where another dispatcher holds one tick would lose them all), and it
 * sends each key's script text with EVAL, two round trips a tick (7 % of a cluster dispatcher's CPU at 300
 * ticks/s); ioredis's defineCommand runs these by EVALSHA.
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

/**
 * The tick guard among dispatchers on one Redis, the scripts above. No lock retries: the loser of a tick neither
 * runs it nor waits for it.
 *
 * Redis down or paused must not stop scheduling: commands fail fast (no offline queue, a short command timeout),
 * and the lock then answers "go ahead" — the ledger's unique key is the fence that keeps the tick single. That
 * degradation is logged once and shown by `health()`.
 */
export class RedisTickLock implements TickLock {
  private readonly logger = new Logger(RedisTickLock.name);
  private readonly redis: Redis;
  /** Keys taken by tryAcquireMany, with the value that proves they are ours. */
  private readonly heldMany = new Map<string, string>();
  private degraded = false;

  constructor(url: string) {
    this.redis = new Redis(url, redisOptions('tick-lock'));
    // Connection errors show in health() and in the degraded warning; without a listener ioredis would rethrow them.
    this.redis.on('error', () => undefined);
    this.redis.defineCommand('gocronAcquireMany', { lua: ACQUIRE_MANY });
    this.redis.defineCommand('gocronReleaseMany', { lua: RELEASE_MANY });
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
          LOCK_UNSETTLED,
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
      return { status: 'ok', detail: 'tick locks on redis' };
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
}
