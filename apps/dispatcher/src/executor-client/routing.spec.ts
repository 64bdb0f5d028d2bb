import type { ExecutorInfo } from '@app/discovery';
import { rankExecutors } from './routing';

const ex = (address: string, running = 0, capacity = 4, draining = false): ExecutorInfo => ({
  id: `id-${address}`,
  address,
  group: 'default',
  capacity,
  running,
  startedAt: '2026-01-01T00:00:00.000Z',
  draining,
});

describe('rankExecutors', () => {
  const three = [ex('b:1'), ex('a:1'), ex('c:1')];

  it('round_robin rotates the starting executor each call', () => {
    const rotation = { next: 0 };
    const firsts = [0, 1, 2, 3].map(() => rankExecutors('round_robin', 1, three, rotation)[0].address);
    expect(firsts).toEqual(['a:1', 'b:1', 'c:1', 'a:1']);
  });

  it('least_busy prefers the lowest running/capacity ratio', () => {
    const list = [ex('a:1', 3, 4), ex('b:1', 1, 2), ex('c:1', 1, 8)];
    expect(rankExecutors('least_busy', 1, list, { next: 0 }).map((e) => e.address)).toEqual(['c:1', 'b:1', 'a:1']);
  });

  it('consistent_hash keeps a job on its executor when another one leaves or joins', () => {
    for (let jobId = 1; jobId <= 50; jobId++) {
      const first = rankExecutors('consistent_hash', jobId, three, { next: 0 })[0];
      const others = three.filter((e) => e !== first);
      // Remove an executor that is not the job's: the job must not move.
      expect(rankExecutors('consistent_hash', jobId, [first, others[0]], { next: 0 })[0].address).toBe(first.address);
      expect(rankExecutors('consistent_hash', jobId, [...three, ex('d:1')], { next: 0 })).toContainEqual(first);
    }
  });

  it('consistent_hash spreads jobs over executors', () => {
    const counts = new Map<string, number>();
    for (let jobId = 1; jobId <= 300; jobId++) {
      const a = rankExecutors('consistent_hash', jobId, three, { next: 0 })[0].address;
      counts.set(a, (counts.get(a) ?? 0) + 1);
    }
    expect(counts.size).toBe(3);
    for (const n of counts.values()) expect(n).toBeGreaterThan(50);
  });

  it('never offers a draining executor', () => {
    const list = [ex('a:1', 0, 4, true), ex('b:1')];
    for (const r of ['round_robin', 'random', 'least_busy', 'consistent_hash'] as const) {
      expect(rankExecutors(r, 1, list, { next: 0 }).map((e) => e.address)).toEqual(['b:1']);
    }
  });

  it('random returns a permutation', () => {
    const out = rankExecutors('random', 1, three, { next: 0 }, () => 0.5);
    expect(out.map((e) => e.address).sort()).toEqual(['a:1', 'b:1', 'c:1']);
  });
});
