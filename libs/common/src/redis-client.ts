import type { RedisOptions } from 'ioredis';

/** What a connection is for; each gets the fail-fast options it has always had. */
export type RedisRole = 'tick-lock' | 'publisher' | 'subscriber';

/**
 * Redis down or paused must not stall a dispatcher: no offline queue and no per-request retries, so a command fails
 * at once while disconnected, and reconnects back off to every 2 s.
 */
function failFast(): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  };
}

/**
 * Options for `new Redis(url, redisOptions(role))`. Options rather than a client: constructing one needs ioredis at
 * run time, and this lib is loaded by the executor too, which never talks to Redis (ioredis costs ~30 ms at start).
 */
export function redisOptions(role: RedisRole): RedisOptions {
  switch (role) {
    case 'tick-lock':
      // A tick waits on these commands.
      return { ...failFast(), commandTimeout: 500, connectTimeout: 2000 };
    case 'publisher':
      return { ...failFast(), commandTimeout: 500 };
    case 'subscriber':
      // No command timeout: SUBSCRIBE is sent only on 'ready', so one timed out would leave the channel unheard
      // until the next reconnect.
      return failFast();
  }
}
