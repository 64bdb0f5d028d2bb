import type { JobsRepository, RunsRepository } from '@app/persistence';
import type { Timers } from '../common/timers.service';
import { JobCursors } from './job-cursors';

function harness(ledgerTick: number | null = null) {
  const written: { id: number; tickAt: number; nextRunAt: number | null }[][] = [];
  let failNext = false;
  const jobs = {
    advanceCursors: (batch: { id: number; tickAt: number; nextRunAt: number | null }[]) => {
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error('database is down'));
      }
      written.push(batch);
      return Promise.resolve();
    },
  } as unknown as JobsRepository;
  // The record at a cursor was written 5 ms after its tick; there is none at 1000 (a stored cursor).
  const runs = {
    lastScheduledTick: () => Promise.resolve(ledgerTick),
    writtenAt: (_jobId: number, at: number) => Promise.resolve(at === 1000 ? null : at + 5),
  } as unknown as RunsRepository;
  const timers = { every: jest.fn(), clearInterval: jest.fn() } as unknown as Timers;
  return { cursors: new JobCursors(jobs, runs, timers), written, failOnce: () => (failNext = true) };
}

describe('JobCursors', () => {
  it('moves forward only, and writes the latest move of each job in one batch', async () => {
    const { cursors, written } = harness();
    cursors.load(1, 1000);
    cursors.advance(1, 3000, 4000);
    cursors.advance(1, 2000, 3000); // behind: ignored
    cursors.load(2, 500);
    cursors.advance(2, 600, 700);
    expect([cursors.of(1), cursors.of(2)]).toEqual([3000, 600]);
    await cursors.flush();
    expect(written).toEqual([
      [
        { id: 1, tickAt: 3000, nextRunAt: 4000 },
        { id: 2, tickAt: 600, nextRunAt: 700 },
      ],
    ]);
    await cursors.flush();
    expect(written).toHaveLength(1); // nothing new to write
  });

  it('keeps the later of the stored cursor and the one in memory when a job is reloaded', () => {
    const { cursors } = harness();
    cursors.load(1, 1000);
    cursors.advance(1, 5000, null);
    expect(cursors.load(1, 2000)).toBe(5000); // the stored one lags the unwritten move
    expect(cursors.load(1, 9000)).toBe(9000); // a reset (new schedule, resume) stores now
  });

  it('takes the ledger’s last claimed tick when it is ahead, never when it is behind, and when it was written', async () => {
    const ahead = harness(8000);
    ahead.cursors.load(1, 1000);
    expect(await ahead.cursors.restoreFromLedger(1)).toEqual({ seenAt: 8005 });
    expect(ahead.cursors.of(1)).toBe(8000);
    const behind = harness(500);
    behind.cursors.load(1, 1000);
    expect(await behind.cursors.restoreFromLedger(1)).toEqual({ seenAt: null });
    expect(behind.cursors.of(1)).toBe(1000);
    expect(await harness(null).cursors.lastClaimed(1, 1000)).toBe(1000);
  });

  it('puts a failed write back for the next flush, newer moves winning', async () => {
    const { cursors, written, failOnce } = harness();
    cursors.load(1, 0);
    cursors.advance(1, 1000, 2000);
    failOnce();
    await cursors.flush();
    cursors.advance(1, 3000, 4000);
    await cursors.flush();
    expect(written).toEqual([[{ id: 1, tickAt: 3000, nextRunAt: 4000 }]]);
  });

  it('forgets a job that is no longer scheduled here, unwritten moves included', async () => {
    const { cursors, written } = harness();
    cursors.load(1, 0);
    cursors.advance(1, 1000, null);
    cursors.forget(1);
    await cursors.flushAll();
    expect(written).toEqual([]);
    expect(cursors.of(1)).toBe(0);
  });
});
