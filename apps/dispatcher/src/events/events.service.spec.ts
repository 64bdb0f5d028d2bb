import type { ChangeEvent } from '@app/contract';
import type { ApiReads, ChangedRun } from '@app/persistence';
import type { Timers } from '../common/timers.service';
import { EventsService } from './events.service';

/**
 * The runs table's change feed in memory. It answers both the keyset read the feed uses and the window read it
 * used before (`findChangedSince`), so the same test measures either.
 */
class RunsTable {
  rows: ChangedRun[] = [];

  reads(): ApiReads {
    const order = (a: ChangedRun, b: ChangedRun) => a.updatedAt - b.updatedAt || a.id - b.id;
    return {
      runsChangedAfter: (c: { at: number; id: number }, upTo: number | null, limit: number) =>
        Promise.resolve(
          this.rows
            .filter(
              (r) =>
                (r.updatedAt > c.at || (r.updatedAt === c.at && r.id > c.id)) && (upTo === null || r.updatedAt <= upTo),
            )
            .sort(order)
            .slice(0, limit),
        ),
      findChangedSince: (since: number, limit: number) =>
        Promise.resolve(
          this.rows
            .filter((r) => r.updatedAt > since)
            .sort(order)
            .slice(0, limit),
        ),
    } as unknown as ApiReads;
  }
}

function harness(table: RunsTable) {
  let pass: (() => unknown) | null = null;
  const timers = {
    every: (_name: string, _ms: number, fn: () => unknown) => (pass = fn),
    clearInterval: () => (pass = null),
  } as unknown as Timers;
  const events = new EventsService(table.reads(), timers);
  const seen: number[] = [];
  const sub = events.stream().subscribe((m) => {
    const e = m.data as ChangeEvent;
    if (e.type === 'run') seen.push(e.runId);
  });
  const poll = async (times = 1) => {
    for (let i = 0; i < times; i++) {
      await pass?.();
      jest.advanceTimersByTime(1000);
    }
  };
  return { seen, poll, stop: () => sub.unsubscribe() };
}

describe('EventsService (the run change feed)', () => {
  afterEach(() => jest.useRealTimers());

  it('delivers every change when more than a page of runs changed in the same millisecond', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const table = new RunsTable();
    const { seen, poll, stop } = harness(table);
    // 1,500 runs finished within one instant (a burst of results written by an executor in one batch).
    for (let id = 1; id <= 1500; id++) table.rows.push({ id, jobId: 1, status: 'succeeded', updatedAt: 1_000_500 });
    jest.advanceTimersByTime(1000);
    await poll(3);
    expect(new Set(seen).size).toBe(1500);
    expect(seen).toHaveLength(1500); // each once
    // And the feed goes on past them.
    table.rows.push({ id: 1501, jobId: 1, status: 'failed', updatedAt: Date.now() });
    await poll(1);
    expect(seen).toContain(1501);
    stop();
  });

  it('still delivers, once, a change whose writer was slow to commit or whose clock is behind', async () => {
    jest.useFakeTimers({ now: 2_000_000 });
    const table = new RunsTable();
    const { seen, poll, stop } = harness(table);
    table.rows.push({ id: 10, jobId: 1, status: 'running', updatedAt: 2_000_100 });
    jest.advanceTimersByTime(1000);
    await poll(1);
    expect(seen).toEqual([10]);
    // Committed now, stamped 900 ms ago (before the head has moved to), by an executor.
    table.rows.push({ id: 9, jobId: 1, status: 'succeeded', updatedAt: Date.now() - 900 });
    await poll(5);
    expect(seen).toEqual([10, 9]);
    stop();
  });
});
