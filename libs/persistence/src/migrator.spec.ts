import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { waitForSchema } from './migrator';
import { SCHEMA_VERSION } from './migrations';

/** The executor's wait for the schema: no budget to run out of, and a log line at most a minute. */
describe('waitForSchema', () => {
  let warn: jest.SpyInstance;

  beforeEach(() => {
    jest.useFakeTimers();
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    warn.mockRestore();
    jest.useRealTimers();
  });

  it('waits as long as it takes, logging once and then at most once a minute, and resolves once migrated', async () => {
    const query = jest.fn().mockRejectedValue(new Error("Table 'cron.migrations' doesn't exist"));
    let settled: string | null = null;
    void waitForSchema({ query } as unknown as DataSource).then(
      () => (settled = 'resolved'),
      (e: Error) => (settled = `rejected: ${e.message}`),
    );
    await jest.advanceTimersByTimeAsync(10 * 60_000);
    expect(settled).toBeNull();
    expect(query.mock.calls.length).toBeGreaterThan(100);
    expect(warn.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(warn.mock.calls.length).toBeLessThanOrEqual(11);
    expect(String(warn.mock.calls[0][0])).toMatch(new RegExp(`migrate the database schema to ${SCHEMA_VERSION}`));

    query.mockResolvedValue([{ name: SCHEMA_VERSION }]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(settled).toBe('resolved');
  });

  it('gives up after an explicit budget', async () => {
    const query = jest.fn().mockResolvedValue([]);
    const waiting = waitForSchema({ query } as unknown as DataSource, 1000);
    const outcome = waiting.catch((e: Error) => e.message);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(await outcome).toMatch(/not found after 1000 ms/);
  });

  it('ends when its signal aborts (shutdown)', async () => {
    const query = jest.fn().mockResolvedValue([]);
    const stop = new AbortController();
    const outcome = waitForSchema({ query } as unknown as DataSource, undefined, undefined, stop.signal).catch(
      (e: Error) => e.message,
    );
    await jest.advanceTimersByTimeAsync(1000);
    stop.abort();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(await outcome).toMatch(/stopped waiting/);
  });
});
