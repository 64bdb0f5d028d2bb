import { DueQueue } from './due-queue';

describe('DueQueue', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('hands over jobs in due order with one timer, skipping replaced and deleted entries', () => {
    const fired: number[][] = [];
    const queue = new DueQueue((ids) => fired.push(ids));
    queue.set(1, 1_000_300);
    queue.set(2, 1_000_100);
    queue.set(3, 1_000_100);
    queue.set(4, 1_000_200);
    queue.set(4, 1_000_400); // moved later: the old entry must not fire
    queue.delete(3);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(100);
    expect(fired).toEqual([[2]]);
    jest.advanceTimersByTime(200);
    expect(fired).toEqual([[2], [1]]);
    jest.advanceTimersByTime(100);
    expect(fired).toEqual([[2], [1], [4]]);
    expect(queue.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('fires at once for a time already past, and rearms for an earlier job', () => {
    const fired: number[] = [];
    const queue = new DueQueue((ids) => fired.push(...ids));
    queue.set(1, 1_005_000);
    queue.set(2, 999_000);
    jest.advanceTimersByTime(0);
    expect(fired).toEqual([2]);
    queue.set(3, 1_001_000);
    jest.advanceTimersByTime(1000);
    expect(fired).toEqual([2, 3]);
  });

  it('holds 100,000 jobs and pops them in order', () => {
    const fired: number[] = [];
    const queue = new DueQueue((ids) => fired.push(...ids));
    for (let i = 0; i < 100_000; i++) queue.set(i, 1_000_000 + ((i * 7919) % 100_000));
    jest.advanceTimersByTime(100_000);
    expect(fired).toHaveLength(100_000);
    expect(new Set(fired).size).toBe(100_000);
  });

  it('does not keep entries of deleted or rescheduled jobs: churn leaves the heap within twice the live jobs', () => {
    const fired: number[] = [];
    const queue = new DueQueue((ids) => fired.push(...ids));
    // (The private heap, read as it is: the bound must hold for what is really kept.)
    const heapLength = () => (queue as unknown as { heap: unknown[] }).heap.length;
    const yearLater = 1_000_000 + 365 * 86_400_000;
    queue.set(1, 1_000_500); // one live job throughout
    // 50,000 yearly jobs created and deleted, and one job rescheduled 50,000 times: no entry reaches the top.
    for (let id = 100; id < 50_100; id++) {
      queue.set(id, yearLater + id);
      queue.delete(id);
      queue.set(2, yearLater + id);
    }
    expect(queue.size).toBe(2);
    expect(heapLength()).toBeLessThanOrEqual(2 * 2 + 1024 + 1);
    expect(queue.entries).toBe(heapLength());
    // Still a heap: the live jobs fire in order.
    jest.advanceTimersByTime(500);
    expect(fired).toEqual([1]);
    jest.advanceTimersByTime(yearLater + 50_099 - 1_000_500);
    expect(fired).toEqual([1, 2]);
  });
});
