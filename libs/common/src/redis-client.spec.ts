import { redisOptions } from './redis-client';

describe('redisOptions', () => {
  const failFast = { enableOfflineQueue: false, maxRetriesPerRequest: 0 };

  it('gives the tick lock short command and connect timeouts', () => {
    expect(redisOptions('tick-lock')).toEqual({
      ...failFast,
      commandTimeout: 500,
      connectTimeout: 2000,
      retryStrategy: expect.any(Function),
    });
  });

  it('gives the publisher a command timeout, the subscriber none', () => {
    expect(redisOptions('publisher')).toEqual({
      ...failFast,
      commandTimeout: 500,
      retryStrategy: expect.any(Function),
    });
    expect(redisOptions('subscriber')).toEqual({ ...failFast, retryStrategy: expect.any(Function) });
  });

  it('reconnects 200 ms later per attempt, at most every 2 s', () => {
    const retry = redisOptions('subscriber').retryStrategy!;
    expect([1, 2, 5, 10, 11, 100].map((n) => retry(n))).toEqual([200, 400, 1000, 2000, 2000, 2000]);
  });
});
