import type { AppConfig } from '@app/config';
import type { ExecutorDirectory, ExecutorInfo } from '@app/discovery';
import type { ExecutorChannels } from './executor-channels';
import { ExecutorPool, MAX_ROTATIONS } from './executor-pool.service';

const ex = (address: string): ExecutorInfo => ({
  id: `id-${address}`,
  address,
  group: 'default',
  capacity: 4,
  running: 0,
  startedAt: '2026-01-01T00:00:00.000Z',
  draining: false,
});

describe('ExecutorPool round-robin positions', () => {
  const list = [ex('a:1'), ex('b:1'), ex('c:1')];
  const directory = { list: () => list } as unknown as ExecutorDirectory;
  const pool = new ExecutorPool(directory, {} as AppConfig, {} as ExecutorChannels);
  // (The private map, read as it is: the bound must hold for what is really kept.)
  const kept = () => (pool as unknown as { rotations: Map<number, unknown> }).rotations.size;

  it('keeps at most MAX_ROTATIONS, dropping the least recently used, and keeps a busy job rotating', () => {
    const firsts: string[] = [];
    // Job 1 is ranked throughout; retries of a stream of other jobs (never scheduled here) are ranked once each.
    for (let jobId = 2; jobId < MAX_ROTATIONS + 50_000; jobId++) {
      pool.rank('default', 'round_robin', jobId);
      if (jobId % 1000 === 0) firsts.push(pool.rank('default', 'round_robin', 1)[0].address);
    }
    expect(kept()).toBe(MAX_ROTATIONS);
    expect(pool.rotationCount).toBe(MAX_ROTATIONS);
    // Job 1 was never evicted: its rotation went on cycling through a, b, c (from its own place, job 1: b).
    expect(firsts.slice(0, 6)).toEqual(['b:1', 'c:1', 'a:1', 'b:1', 'c:1', 'a:1']);
    expect(new Set(firsts.slice(-3))).toEqual(new Set(['a:1', 'b:1', 'c:1']));
  });
});
