import type { AppConfig } from '@app/config';
import type { DependencyLedger, JobsRepository, RunLinksRepository } from '@app/persistence';
import type { Timers } from '../common/timers.service';
import type { TickClaimer } from '../scheduling/tick-claimer';
import { DEPENDENCY_PASS_MS, DependencyPlanner } from './dependency-planner.service';

/** A planner over a ledger whose set of parent jobs the test sets, with the timer it registers recorded. */
function planner() {
  let parentIds: number[] = [];
  const intervals: number[] = [];
  let cleared = 0;
  const ledger = {
    cursor: () => Promise.resolve(null),
    parentIds: () => Promise.resolve(parentIds),
    finishedAfter: () => Promise.resolve({ runs: [], reached: null, full: false }),
    edgesFrom: () => Promise.resolve([]),
    advanceCursor: () => Promise.resolve(),
  } as unknown as DependencyLedger;
  const timers = {
    every: (_name: string, ms: number) => void intervals.push(ms),
    clearInterval: () => void cleared++,
  } as unknown as Timers;
  const p = new DependencyPlanner(
    ledger,
    {} as RunLinksRepository,
    {} as JobsRepository,
    {} as TickClaimer,
    timers,
    {} as AppConfig,
  );
  return {
    p,
    intervals,
    setParents: (ids: number[]) => (parentIds = ids),
    cleared: () => cleared,
  };
}

describe('DependencyPlanner pacing', () => {
  it('passes every second while no job has parents, every DEPENDENCY_PASS_MS once one has, and back', async () => {
    const { p, intervals, setParents } = planner();
    p.onApplicationBootstrap();
    expect(intervals).toEqual([DEPENDENCY_PASS_MS]);

    let now = 1_000_000;
    await p.pass(now);
    expect(intervals).toEqual([DEPENDENCY_PASS_MS, 1000]);
    await p.pass((now += 1000));
    expect(intervals).toHaveLength(2); // unchanged: the timer is not replaced on every pass

    // A job given a parent is seen at the next idle pass (the set is read at every pass while it is empty).
    setParents([42]);
    await p.pass((now += 999));
    expect(intervals).toEqual([DEPENDENCY_PASS_MS, 1000, DEPENDENCY_PASS_MS]);

    // The set is read again once a second at the fast pace; emptied, the pace drops back.
    setParents([]);
    await p.pass((now += DEPENDENCY_PASS_MS));
    expect(intervals).toHaveLength(3);
    await p.pass((now += 1000));
    expect(intervals).toEqual([DEPENDENCY_PASS_MS, 1000, DEPENDENCY_PASS_MS, 1000]);
  });

  it('registers no timer again after shutdown', async () => {
    const { p, intervals, cleared } = planner();
    p.onApplicationBootstrap();
    p.onApplicationShutdown();
    await p.pass(1_000_000);
    expect(intervals).toEqual([DEPENDENCY_PASS_MS]);
    expect(cleared()).toBe(1);
  });
});
