// The tick lock on a real Redis: the batch acquire and release that the tick claimer uses, between two dispatchers'
// locks (two clients), under the suite's own key prefix.
import Redis from 'ioredis';
import { testServices, uniquePrefix } from '../../../test/support/services';
import { RedisTickLock } from './redis-tick-lock';
import { tickLockKey } from './tick-lock';

describe('RedisTickLock on redis', () => {
  const prefix = uniquePrefix('tick-lock');
  const url = testServices().redisUrl;
  let one: RedisTickLock;
  let two: RedisTickLock;
  let redis: Redis;

  const ready = (lock: RedisTickLock) =>
    new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 5000;
      const poll = () =>
        void lock.health().then((h) => {
          if (h.status === 'ok') resolve();
          else if (Date.now() > deadline) reject(new Error(`redis not ready: ${h.detail}`));
          else setTimeout(poll, 20);
        });
      poll();
    });

  beforeAll(async () => {
    one = new RedisTickLock(url);
    two = new RedisTickLock(url);
    redis = new Redis(url);
    await Promise.all([ready(one), ready(two)]);
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    one.onApplicationShutdown();
    two.onApplicationShutdown();
    redis.disconnect();
  });

  const keys = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => tickLockKey(prefix, from + i, '1700000000', 1));

  it('gives each key of overlapping batches to exactly one holder', async () => {
    const a = keys(1, 1500); // more than one script call's worth
    const b = keys(1001, 1000);
    const [gotA, gotB] = await Promise.all([one.tryAcquireMany(a, 5000), two.tryAcquireMany(b, 5000)]);
    const holders = new Map<string, number>();
    a.forEach((k, i) => gotA[i] && holders.set(k, (holders.get(k) ?? 0) + 1));
    b.forEach((k, i) => gotB[i] && holders.set(k, (holders.get(k) ?? 0) + 1));
    expect(holders.size).toBe(2000); // keys 1..2000, each held
    expect([...holders.values()].every((n) => n === 1)).toBe(true);
    await one.releaseMany(a);
    await two.releaseMany(b);
  });

  it('releases only its own keys, and a released key is free again', async () => {
    const k = keys(5000, 3);
    expect(await one.tryAcquireMany(k, 5000)).toEqual([true, true, true]);
    expect(await two.tryAcquireMany(k, 5000)).toEqual([false, false, false]);
    await two.releaseMany(k); // not its keys: nothing happens
    expect(await redis.exists(...k)).toBe(3);
    await one.releaseMany(k);
    expect(await redis.exists(...k)).toBe(0);
    expect(await two.tryAcquireMany(k, 5000)).toEqual([true, true, true]);
    await two.releaseMany(k);
  });

  it('lets a key expire after its TTL', async () => {
    const [k] = keys(6000, 1);
    expect(await one.tryAcquireMany([k], 200)).toEqual([true]);
    const ttl = await redis.pttl(k);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(200);
  });
});
