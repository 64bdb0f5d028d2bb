import { ActiveRuns } from './active-runs';
import { FINISHED_GRACE_MS, FinishedOutputs } from './finished-outputs';
import { LiveOutput } from './runners/live-output';

function ended(text: string): LiveOutput {
  const live = new LiveOutput();
  live.append(text);
  live.finish('succeeded');
  return live;
}

describe('FinishedOutputs (review S4)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('keeps a finished run readable after its slot is freed, for the grace only', () => {
    const active = new ActiveRuns();
    const slot = active.reserve(7, 1);
    slot.live = ended('the last bytes\n');
    active.release(7);
    expect(active.get(7)).toBeUndefined();
    expect(active.liveOutput(7)?.read(4, 100).data).toBe('last bytes\n');
    jest.advanceTimersByTime(FINISHED_GRACE_MS - 1);
    expect(active.liveOutput(7)).toBeDefined();
    jest.advanceTimersByTime(1);
    expect(active.liveOutput(7)).toBeUndefined();
    expect(active.finished.heldBytes).toBe(0);
  });

  it('keeps nothing of a run that never finished (its slot freed before it started)', () => {
    const active = new ActiveRuns();
    active.reserve(8, 1).live = new LiveOutput();
    active.release(8);
    expect(active.liveOutput(8)).toBeUndefined();
  });

  it('is bounded in count and in memory: the oldest goes first', () => {
    // Room in bytes for the big output below and one small one: the big one pushes out two of the three.
    const small = ended('run 0').memoryBytes;
    const maxBytes = 8192 + small;
    const kept = new FinishedOutputs(30_000, 3, maxBytes);
    for (let id = 1; id <= 5; id++) kept.keep(id, ended(`run ${id}`));
    expect(kept.size).toBe(3);
    expect([1, 2, 3, 4, 5].map((id) => kept.get(id) !== undefined)).toEqual([false, false, true, true, true]);
    const big = new LiveOutput([], 64 * 1024);
    big.append(Buffer.alloc(8192, 'x'));
    big.finish('failed');
    kept.keep(6, big);
    expect(kept.heldBytes).toBeLessThanOrEqual(maxBytes);
    expect(kept.size).toBe(2);
    expect(kept.get(6)).toBeDefined();
    expect(kept.get(4)).toBeUndefined();
    expect(kept.get(5)).toBeDefined();
    kept.clear();
    expect(kept.size).toBe(0);
  });
});
