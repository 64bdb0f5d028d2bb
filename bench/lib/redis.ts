// The shared Redis, seen from the bench: removing a run's keys, and its memory use.
import Redis from 'ioredis';
import { testServices } from '../../test/support/services';

/** Deletes every key under `prefix` (SCAN + UNLINK). */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis(testServices().redisUrl, { lazyConnect: false });
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

/** INFO memory used_memory, in bytes. */
export async function redisUsedMemory(): Promise<number> {
  const r = new Redis(testServices().redisUrl);
  try {
    const info = await r.info('memory');
    return Number((/used_memory:(\d+)/.exec(info) ?? [])[1]);
  } finally {
    r.disconnect();
  }
}
